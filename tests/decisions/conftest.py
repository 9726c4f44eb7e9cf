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
from decisions.services import decision_request

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
    counter = {"n": 0}

    def make(**overrides: Any) -> Decision:
        counter["n"] += 1
        fields: dict[str, Any] = {
            "kind": "new_integration",
            "title": f"Connect the shop to a payment API #{counter['n']}",
            "situation": "Sales need card payments; the ideator proposes Stripe.",
            "impact": "One new outside service holding customer payment data.",
            "options": [
                {
                    "key": "approve",
                    "label": "Connect it",
                    "impact": "Cards work",
                    "recommended": True,
                },
                {"key": "reject", "label": "Do not connect", "impact": "Bank transfer only"},
            ],
            "action": "tests.record",
            "action_args": {"n": counter["n"]},
        }
        fields.update(overrides)
        return decision_request(**fields)

    return make
