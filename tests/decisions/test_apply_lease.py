"""An approved decision whose worker dies mid-action does not stay ``approved`` forever.

The claim on running the action is a lease. Once it lapses, the governance tick re-runs
an action declared idempotent (once), or fails the decision as "interrupted, needs a
person"; both audited. A live lease is never taken, and two catch-ups at once act once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from decisions.actions import action_register
from decisions.models import AuditEvent, Decision
from decisions.services import decision_apply, decision_apply_overdue, decision_approve
from decisions.services.apply import APPLY_MAX_ATTEMPTS
from decisions.tasks import governance_tick
from tests.concurrency import run_together

CALLS: list[int] = []
DIE_ON_CALLS: set[int] = set()


class WorkerKilled(BaseException):
    """Stands for SIGKILL mid-action: nothing after it runs, not even ``except Exception``."""


def _run(args: dict[str, Any], decision: Any) -> dict[str, Any]:
    CALLS.append(decision.pk)
    if len(CALLS) in DIE_ON_CALLS:
        raise WorkerKilled
    return {"calls": len(CALLS)}


@action_register("tests.lease_plain")
def _plain(*, args: dict[str, Any], decision: Any) -> dict[str, Any]:
    return _run(args, decision)


@action_register("tests.lease_idempotent", idempotent=True)
def _idempotent(*, args: dict[str, Any], decision: Any) -> dict[str, Any]:
    return _run(args, decision)


@pytest.fixture(autouse=True)
def calls() -> list[int]:
    CALLS.clear()
    DIE_ON_CALLS.clear()
    return CALLS


def _approved_and_killed(make_decision, alice, action: str) -> Decision:
    """Approve, then a worker claims the action through the service and dies in it."""
    decision = make_decision(action=action)
    decision_approve(decision_id=decision.pk, user=alice)
    DIE_ON_CALLS.add(1)
    with pytest.raises(WorkerKilled):
        decision_apply(decision_id=decision.pk)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPROVED
    assert decision.apply_lease_owner and decision.apply_lease_expires_at
    return decision


def _after_the_lease(decision: Decision, extra: timedelta = timedelta(seconds=1)):
    return time_machine.travel(decision.apply_lease_expires_at + extra, tick=False)


@pytest.mark.django_db
def test_an_interrupted_action_that_is_not_idempotent_fails_for_a_person(
    make_decision, alice, calls
):
    decision = _approved_and_killed(make_decision, alice, "tests.lease_plain")

    with _after_the_lease(decision):
        tick = governance_tick()

    decision.refresh_from_db()
    assert tick["applied"] == [decision.pk]
    assert decision.status == Decision.Status.FAILED
    assert decision.outcome.startswith("Interrupted, needs a person")
    assert "not declared idempotent" in decision.outcome
    assert calls == [decision.pk]  # never run a second time
    assert decision.apply_lease_owner == ""
    failed = AuditEvent.objects.for_subject(decision).get(action="decisions.decision_failed")
    assert failed.actor is None and failed.data["interrupted"] is True
    with time_machine.travel(timezone.now() + timedelta(hours=5), tick=False):
        governance_tick()
    assert AuditEvent.objects.filter(action="decisions.decision_failed").count() == 1


@pytest.mark.django_db
def test_an_interrupted_idempotent_action_is_run_again_exactly_once(make_decision, alice, calls):
    decision = _approved_and_killed(make_decision, alice, "tests.lease_idempotent")

    with _after_the_lease(decision):
        governance_tick()
        governance_tick()

    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert decision.result == {"calls": 2}
    assert calls == [decision.pk, decision.pk]  # the killed run and one re-run
    assert decision.apply_attempts == 2
    resumed = AuditEvent.objects.for_subject(decision).get(
        action="decisions.decision_apply_resumed"
    )
    assert resumed.actor is None and resumed.data["attempt"] == 2
    assert (
        AuditEvent.objects.for_subject(decision).filter(action="decisions.decision_applied").count()
        == 1
    )


@pytest.mark.django_db
def test_a_live_lease_is_not_stolen(make_decision, alice, calls):
    decision = _approved_and_killed(make_decision, alice, "tests.lease_idempotent")
    owner = decision.apply_lease_owner

    with time_machine.travel(decision.apply_lease_expires_at - timedelta(seconds=1), tick=False):
        assert governance_tick()["applied"] == []
        assert decision_apply(decision_id=decision.pk).status == Decision.Status.APPROVED

    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPROVED
    assert decision.apply_lease_owner == owner
    assert calls == [decision.pk]
    assert not AuditEvent.objects.filter(action="decisions.decision_apply_resumed").exists()


@pytest.mark.django_db
def test_an_idempotent_action_interrupted_again_and_again_ends_with_a_person(
    make_decision, alice, calls
):
    decision = _approved_and_killed(make_decision, alice, "tests.lease_idempotent")
    DIE_ON_CALLS.update(range(2, APPLY_MAX_ATTEMPTS + 1))
    for _ in range(APPLY_MAX_ATTEMPTS - 1):
        with _after_the_lease(decision), pytest.raises(WorkerKilled):
            governance_tick()
        decision.refresh_from_db()

    with _after_the_lease(decision):
        governance_tick()

    decision.refresh_from_db()
    assert decision.status == Decision.Status.FAILED
    assert f"interrupted {APPLY_MAX_ATTEMPTS} times" in decision.outcome
    assert len(calls) == APPLY_MAX_ATTEMPTS


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("action", ["tests.lease_plain", "tests.lease_idempotent"])
def test_two_catch_ups_at_once_act_once(make_decision, alice, calls, action):
    decision = _approved_and_killed(make_decision, alice, action)
    later = decision.apply_lease_expires_at + timedelta(seconds=1)

    _, errors = run_together(lambda i: decision_apply_overdue(now=later), 4)

    assert errors == []
    decision.refresh_from_db()
    events = AuditEvent.objects.for_subject(decision)
    if action == "tests.lease_plain":
        assert decision.status == Decision.Status.FAILED
        assert events.filter(action="decisions.decision_failed").count() == 1
        assert calls == [decision.pk]
    else:
        assert decision.status == Decision.Status.APPLIED
        assert events.filter(action="decisions.decision_apply_resumed").count() == 1
        assert events.filter(action="decisions.decision_applied").count() == 1
        assert calls == [decision.pk, decision.pk]
