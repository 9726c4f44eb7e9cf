"""Real concurrency on a real database: approvers clicking at once, duplicate requests,
and the approved action delivered twice.

Runs on SQLite in the main pass and again on PostgreSQL (``-m postgres``), where rows
are really locked (``select_for_update``) by concurrent connections.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from decisions.models import AuditEvent, Decision
from decisions.services import (
    DecisionNotPending,
    decision_apply,
    decision_approve,
    decision_reject,
)
from tests.concurrency import run_together
from tests.personas import person_create

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def _approvers(n: int) -> list[User]:
    return [
        person_create(f"approver{i}", staff=False, permissions=("decisions.approve_decision",))
        for i in range(n)
    ]


def test_two_approvers_at_once_yield_one_outcome_and_one_audit_row(make_decision):
    decision = make_decision()
    first, second = _approvers(2)

    def click(i: int) -> Decision:
        if i == 0:
            return decision_approve(decision_id=decision.pk, user=first, comment="yes")
        return decision_reject(decision_id=decision.pk, user=second, comment="no")

    results, errors = run_together(click, 2)
    assert len(results) == 1, (results, errors)
    assert len(errors) == 1 and isinstance(errors[0], DecisionNotPending), errors
    decision.refresh_from_db()
    assert decision.status in (Decision.Status.APPROVED, Decision.Status.REJECTED)
    assert decision.decided_by == results[0].decided_by
    outcomes = AuditEvent.objects.for_subject(decision).filter(
        action__in=["decisions.decision_approved", "decisions.decision_rejected"]
    )
    assert outcomes.count() == 1
    assert outcomes.get().actor == decision.decided_by


def test_many_approvers_approving_at_once_approve_once(make_decision, recorded, q_sync):
    decision = make_decision()
    people = _approvers(4)
    results, errors = run_together(
        lambda i: decision_approve(decision_id=decision.pk, user=people[i]), 4
    )
    assert len(results) == 1
    assert all(isinstance(error, DecisionNotPending) for error in errors), errors
    assert AuditEvent.objects.filter(action="decisions.decision_approved").count() == 1
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.APPLIED
    assert len(recorded) == 1


def test_concurrent_requests_for_one_action_make_one_decision(make_decision):
    results, errors = run_together(lambda i: make_decision(action_args={"same": True}), 4)
    assert not errors, errors
    assert len({decision.pk for decision in results}) == 1
    assert Decision.objects.count() == 1
    assert AuditEvent.objects.filter(action="decisions.decision_requested").count() == 1


def test_an_approved_action_delivered_twice_at_once_runs_once(make_decision, alice, recorded):
    decision = make_decision()
    decision_approve(decision_id=decision.pk, user=alice)  # no q_sync: nothing ran yet
    assert recorded == []
    _, errors = run_together(lambda i: decision_apply(decision_id=decision.pk), 3)
    assert not errors, errors
    assert len(recorded) == 1
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.APPLIED
    assert AuditEvent.objects.filter(action="decisions.decision_applied").count() == 1


def test_a_bad_option_from_one_approver_does_not_block_the_other(make_decision):
    decision = make_decision()
    first, second = _approvers(2)

    def click(i: int) -> Decision:
        user, option = (first, "nonsense") if i == 0 else (second, "approve")
        return decision_approve(decision_id=decision.pk, user=user, option_key=option)

    results, errors = run_together(click, 2)
    assert len(results) == 1 and results[0].decided_by == second
    assert len(errors) == 1 and isinstance(errors[0], ValidationError)
