"""Running approved actions: after commit, once, only while the digest matches, and
with success or failure recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from decisions.models import AuditEvent, Decision
from decisions.services import decision_apply, decision_apply_overdue, decision_approve
from tests.decisions.factories import BudgetFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_approval_runs_the_action_after_commit_exactly_once(make_decision, alice, recorded, q_sync):
    decision = make_decision(action_args={"price": 1200})
    decision_approve(decision_id=decision.pk, user=alice, comment="ship it")
    decision.refresh_from_db()
    assert recorded == [{"decision": decision.pk, "args": {"price": 1200}}]
    assert decision.status == Decision.Status.APPLIED
    assert decision.result == {"runs": 1}
    assert decision.applied_at is not None and decision.apply_attempts == 1
    assert decision.apply_lease_owner == "" and decision.apply_lease_expires_at is None
    applied = AuditEvent.objects.for_subject(decision).get(action="decisions.decision_applied")
    assert applied.actor is None and applied.data["result"] == {"runs": 1}
    # Delivered again (django-q2 is at least once) or caught up by the tick: nothing.
    decision_apply(decision_id=decision.pk)
    decision_apply_overdue(now=timezone.now() + timedelta(hours=1))
    assert len(recorded) == 1
    assert AuditEvent.objects.filter(action="decisions.decision_applied").count() == 1


def test_nothing_runs_when_the_approval_rolls_back(make_decision, alice, recorded, q_sync):
    from django.db import transaction

    decision = make_decision()

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        decision_approve(decision_id=decision.pk, user=alice)
        raise Abort
    assert recorded == []
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING
    assert not AuditEvent.objects.filter(action="decisions.decision_approved").exists()


def test_changed_arguments_are_refused_not_run(make_decision, alice, recorded):
    decision = make_decision(action_args={"amount": 100})
    decision_approve(decision_id=decision.pk, user=alice)
    # Someone changes the stored arguments after the approval.
    Decision.objects.filter(pk=decision.pk).update(action_args={"amount": 100000})
    result = decision_apply(decision_id=decision.pk)
    assert result.status == Decision.Status.FAILED
    assert "no longer match" in result.outcome
    assert recorded == []
    failed = AuditEvent.objects.for_subject(decision).get(action="decisions.decision_failed")
    assert "no longer match" in failed.data["reason"]


def test_a_failing_action_is_recorded_and_leaves_nothing_half_done(make_decision, alice, q_sync):
    decision = make_decision(action="tests.explode", action_args={"what": "the payment API"})
    decision_approve(decision_id=decision.pk, user=alice)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.FAILED
    assert decision.outcome == "Failed: RuntimeError: the handler broke on the payment API"
    assert not AuditEvent.objects.filter(action="decisions.decision_applied").exists()
    failed = AuditEvent.objects.for_subject(decision).get(action="decisions.decision_failed")
    assert failed.data["action"] == "tests.explode"
    # A failed decision is final: no retry behind people's backs.
    decision_apply(decision_id=decision.pk)
    assert AuditEvent.objects.filter(action="decisions.decision_failed").count() == 1


def test_an_action_unregistered_since_the_request_fails_clearly(make_decision, alice):
    decision = make_decision()
    decision_approve(decision_id=decision.pk, user=alice)
    Decision.objects.filter(pk=decision.pk).update(action="gone.away")
    # The digest covers the action name too, so this is refused as a mismatch.
    result = decision_apply(decision_id=decision.pk)
    assert result.status == Decision.Status.FAILED
    assert result.outcome.startswith("Refused")


def test_pending_or_rejected_decisions_never_apply(make_decision, alice, recorded):
    from decisions.services import decision_reject

    pending = make_decision()
    rejected = make_decision()
    decision_reject(decision_id=rejected.pk, user=alice)
    assert decision_apply(decision_id=pending.pk).status == Decision.Status.PENDING
    assert decision_apply(decision_id=rejected.pk).status == Decision.Status.REJECTED
    assert recorded == []


def test_a_lost_enqueue_is_caught_up_by_the_tick(make_decision, alice, recorded, monkeypatch):
    """The broker was down when the approval committed: the tick runs it later, once."""
    import decisions.services.enqueue

    def broker_down(*args, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(decisions.services.enqueue, "async_task", broker_down)
    decision = make_decision()
    decision_approve(decision_id=decision.pk, user=alice)  # enqueue fails, logged
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.APPROVED
    assert recorded == []
    assert decision_apply_overdue() == []  # within the grace period: the task may come
    later = timezone.now() + timedelta(minutes=3)
    assert decision_apply_overdue(now=later) == [decision.pk]
    assert decision_apply_overdue(now=later) == []
    assert len(recorded) == 1
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.APPLIED


def test_budget_limit_action_changes_the_budget_once(alice, q_sync):
    from decisions.models import Budget
    from decisions.services import decision_request

    budget = BudgetFactory()
    decision = decision_request(
        kind="budget_overrun",
        title="Raise the ads budget",
        situation="Ads spend is forecast at 130,000 JPY this month.",
        options=[
            {"key": "raise", "label": "Raise to 130,000 JPY", "recommended": True},
            {"key": "reject", "label": "Keep 100,000 JPY"},
        ],
        action="decisions.budget_limit_set",
        action_args={"budget_id": budget.pk, "limit": "130000"},
    )
    decision_approve(decision_id=decision.pk, user=alice, option_key="raise")
    assert Budget.objects.get(pk=budget.pk).limit == 130000
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert decision.result == {"budget_id": budget.pk, "limit": "130000"}
    updated = AuditEvent.objects.for_subject(budget).get(action="decisions.budget_updated")
    assert updated.data == {"limit": {"from": "100000", "to": "130000"}}


def test_acknowledge_records_the_yes_and_runs_nothing_else(alice, q_sync):
    from decisions.services import decision_request

    decision = decision_request(
        kind="other",
        title="Try the queue",
        situation="A first decision, asked from the shell.",
        options=[{"key": "approve", "label": "Yes", "recommended": True}],
        action="decisions.acknowledge",
        action_args={"note": "hello"},
    )
    decision_approve(decision_id=decision.pk, user=alice)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPLIED
    assert decision.result == {"acknowledged": True, "args": {"note": "hello"}}
