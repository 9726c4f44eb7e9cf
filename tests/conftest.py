"""Shared fixtures.

Personas follow healthchecks: alice approves, bob requests, charlie is an outsider.
"""

from __future__ import annotations

pytest_plugins = [
    "tests.fake_gptoss",
    "tests.smtp",
    "tests.google_sheets",
]
