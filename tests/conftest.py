"""Shared fixtures.

Personas follow healthchecks: alice approves, bob requests, charlie is an outsider.
"""

from __future__ import annotations

import pytest

pytest_plugins = [
    "tests.fake_gptoss",
    "tests.smtp",
    "tests.google_sheets",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test proves nothing: the suite counts it as a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, and skips are not allowed in this suite: {report.longrepr}"
