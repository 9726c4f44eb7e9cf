"""Fixtures for the governance tests.

Personas (tests/personas.py, as in healthchecks): alice approves (staff, holds
``approve_decision``), bob requests (staff, may view decisions but not decide), charlie is
an outsider (an active account with no staff access and no permission).

``q_sync`` makes django-q2 run queued tasks synchronously (its own ``sync`` mode), so
the after-commit mails and approved actions run for real, through ``async_task``.
"""

from __future__ import annotations

from typing import Any

import pytest

from decisions.actions import ACTIONS, action_register
from decisions.models import Decision
from tests.decisions.factories import DecisionFactory
from tests.decisions.telegram_fake import telegram  # noqa: F401 - the fake Bot API fixture

RECORDED: list[dict[str, Any]] = []


@action_register("tests.record")
def _record(*, args: dict[str, Any], decision: Any) -> dict[str, Any]:
    """A test action: remembers each run, so a test can count them."""
    RECORDED.append({"decision": decision.pk, "args": dict(args)})
    return {"runs": len(RECORDED)}


@action_register("tests.explode")
def _explode(*, args: dict[str, Any], decision: Any) -> dict[str, Any]:
    raise RuntimeError(f"the handler broke on {args.get('what', 'purpose')}")


@pytest.fixture(autouse=True)
def recorded() -> list[dict[str, Any]]:
    RECORDED.clear()
    assert "tests.record" in ACTIONS
    return RECORDED


@pytest.fixture
def q_sync(monkeypatch) -> None:
    """django-q2's synchronous mode: ``async_task`` runs the task in this process."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def make_decision(db):
    """Request a decision with sensible defaults; every keyword can be overridden."""
    # Each test counts its decisions from #1, whatever ran before it.
    DecisionFactory.reset_sequence(1)

    def make(**overrides: Any) -> Decision:
        return DecisionFactory(**overrides)

    return make
