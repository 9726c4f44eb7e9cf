"""Shared fixtures.

Personas follow healthchecks: alice approves, bob requests, charlie is an outsider;
tests/personas.py says what each may do in each app.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from tests.personas import app_of, persona_create

pytest_plugins = [
    "tests.fake_gptoss",
    "tests.smtp",
    "tests.google_sheets",
    "tests.bizagent.whop_fake",
    "tests.processes",
    "tests.browser",
    "tests.workflows.loopback_http",
]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A skipped test proves nothing: the suite counts it as a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped, and skips are not allowed in this suite: {report.longrepr}"


@pytest.fixture
def alice(request, db) -> User:
    """The approver, with the permissions of the app this test belongs to."""
    return persona_create("alice", app=app_of(request.path))


@pytest.fixture
def bob(request, db) -> User:
    """The requester, with the permissions of the app this test belongs to."""
    return persona_create("bob", app=app_of(request.path))


@pytest.fixture
def charlie(request, db) -> User:
    """The outsider, as the app this test belongs to sees him."""
    return persona_create("charlie", app=app_of(request.path))


@pytest.fixture(autouse=True)
def _epoch_memo_clear():
    """Each test starts as a fresh worker: the per-process memory of epoch values
    (``ideas.selectors.epoch_memo``) would otherwise outlive the database the test rolls
    back (a theme reusing a primary key and a frozen creation time)."""
    from ideas.selectors import epoch_memo

    epoch_memo.clear()
    yield
    epoch_memo.clear()
