"""Decision transitions: request, approve, reject, cancel; guards, permissions, audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from decisions.models import AuditEvent, Decision, DecisionOption
from decisions.services import (
    DecisionNotPending,
    action_digest,
    decision_approve,
    decision_cancel,
    decision_reject,
    decision_request,
)

pytestmark = pytest.mark.django_db


def _trail(decision: Decision) -> list[str]:
    return list(
        AuditEvent.objects.for_subject(decision).order_by("id").values_list("action", flat=True)
    )


def test_request_records_everything_the_approver_needs(make_decision, bob, settings):
    settings.DECISION_TIMEOUT_HOURS = 24
    before = timezone.now()
    decision = make_decision(requested_by=bob, urgency="high", model_analysis="private thoughts")
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert decision.recommendation == "approve"
    assert decision.requested_by == bob
    assert decision.due_at - decision.requested_at == timedelta(hours=24)
    assert decision.requested_at >= before
    assert decision.action_digest == action_digest("tests.record", decision.action_args)
    options = list(decision.options.order_by("id").values_list("key", "recommended"))
    assert options == [("approve", True), ("reject", False)]
    event = AuditEvent.objects.get(action="decisions.decision_requested")
    assert event.actor == bob
    assert event.data["digest"] == decision.action_digest
    assert "private thoughts" not in str(event.data)


def test_request_is_idempotent_per_action_digest(make_decision):
    first = make_decision(action_args={"budget": 5})
    again = make_decision(action_args={"budget": 5}, title="asked twice")
    other = make_decision(action_args={"budget": 6})
    assert again.pk == first.pk
    assert other.pk != first.pk
    assert Decision.objects.count() == 2
    assert AuditEvent.objects.filter(action="decisions.decision_requested").count() == 2


def test_after_a_decision_the_same_action_can_be_asked_again(make_decision, alice):
    first = make_decision(action_args={"x": 1})
    decision_reject(decision_id=first.pk, user=alice, comment="not now")
    second = make_decision(action_args={"x": 1})
    assert second.pk != first.pk and second.status == Decision.Status.PENDING


def test_database_keeps_one_pending_decision_per_digest(make_decision):
    from django.db import IntegrityError, transaction

    first = make_decision()
    clone = Decision(
        kind=first.kind,
        title="forged duplicate",
        situation="x",
        action=first.action,
        action_args=first.action_args,
        action_digest=first.action_digest,
        due_at=first.due_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        clone.save()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "launch"}, "kind"),
        ({"urgency": "whenever"}, "urgency"),
        ({"action": "no.such.action"}, "action"),
        ({"options": []}, "options"),
        ({"action_args": ["not", "a", "dict"]}, "action_args"),
        (
            {
                "options": [
                    {"key": "a", "label": "A", "recommended": True},
                    {"key": "b", "label": "B", "recommended": True},
                ]
            },
            "options",
        ),
        ({"options": [{"key": "a", "label": "A"}]}, "options"),
        ({"options": [{"label": "no key", "recommended": True}]}, "options"),
    ],
)
def test_bad_requests_name_the_field_and_write_nothing(make_decision, overrides, field):
    with pytest.raises(ValidationError) as caught:
        make_decision(**overrides)
    assert field in caught.value.message_dict, caught.value
    assert Decision.objects.count() == 0
    assert DecisionOption.objects.count() == 0
    assert AuditEvent.objects.count() == 0


def test_approve_happy_path(make_decision, alice):
    decision = make_decision()
    decided = decision_approve(decision_id=decision.pk, user=alice, comment="go")
    decided.refresh_from_db()
    assert decided.status == Decision.Status.APPROVED
    assert decided.chosen_option == "approve"
    assert decided.decided_by == alice and decided.decided_at is not None
    assert decided.comment == "go"
    event = AuditEvent.objects.get(action="decisions.decision_approved")
    assert event.actor == alice
    assert event.data["option"] == "approve" and event.data["comment"] == "go"
    assert event.data["via"] == "api"
    assert _trail(decision) == ["decisions.decision_requested", "decisions.decision_approved"]


def test_reject_happy_path_never_runs_the_action(make_decision, alice, recorded, q_sync):
    decision = make_decision()
    decision_reject(decision_id=decision.pk, user=alice, comment="too risky")
    decision.refresh_from_db()
    assert decision.status == Decision.Status.REJECTED
    assert decision.outcome.startswith("Rejected")
    assert recorded == []
    assert _trail(decision) == ["decisions.decision_requested", "decisions.decision_rejected"]


@pytest.mark.parametrize("persona", ["bob", "charlie"])
def test_deciding_needs_the_approve_permission(make_decision, persona, request):
    user = request.getfixturevalue(persona)
    decision = make_decision()
    with pytest.raises(PermissionDenied, match="approve_decision"):
        decision_approve(decision_id=decision.pk, user=user)
    with pytest.raises(PermissionDenied):
        decision_reject(decision_id=decision.pk, user=user)
    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert _trail(decision) == ["decisions.decision_requested"]


def test_an_inactive_approver_cannot_decide(make_decision, alice):
    alice.is_active = False
    alice.save()
    decision = make_decision()
    with pytest.raises(PermissionDenied):
        decision_approve(decision_id=decision.pk, user=alice)


def test_a_superuser_can_decide(make_decision, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    decision = make_decision()
    assert decision_approve(decision_id=decision.pk, user=root).status == "approved"


@pytest.mark.parametrize(
    "first",
    ["approve", "reject", "cancel", "expire"],
)
def test_only_pending_decisions_can_be_decided(make_decision, alice, first):
    decision = make_decision()
    if first == "approve":
        decision_approve(decision_id=decision.pk, user=alice)
    elif first == "reject":
        decision_reject(decision_id=decision.pk, user=alice)
    elif first == "cancel":
        decision_cancel(decision_id=decision.pk, reason="superseded")
    else:
        from decisions.services import decision_expire_due

        decision_expire_due(now=decision.due_at)
    status = Decision.objects.get(pk=decision.pk).status
    events = AuditEvent.objects.count()
    with pytest.raises(DecisionNotPending, match="not pending"):
        decision_approve(decision_id=decision.pk, user=alice)
    with pytest.raises(DecisionNotPending):
        decision_reject(decision_id=decision.pk, user=alice)
    with pytest.raises(DecisionNotPending):
        decision_cancel(decision_id=decision.pk, reason="again")
    assert Decision.objects.get(pk=decision.pk).status == status
    assert AuditEvent.objects.count() == events


def test_past_due_cannot_be_approved_even_before_the_tick(make_decision, alice):
    decision = make_decision()
    with pytest.raises(DecisionNotPending, match="past its due time"):
        decision_approve(decision_id=decision.pk, user=alice, now=decision.due_at)
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_approve_with_a_non_proceeding_option_is_refused(make_decision, alice):
    decision = make_decision()
    with pytest.raises(ValidationError, match="reject instead"):
        decision_approve(decision_id=decision.pk, user=alice, option_key="reject")
    with pytest.raises(ValidationError, match="Choose one of the options"):
        decision_approve(decision_id=decision.pk, user=alice, option_key="maybe")
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.PENDING


def test_approve_needs_an_option_when_several_proceed(make_decision, alice):
    decision = make_decision(
        options=[
            {"key": "small", "label": "Raise a little", "recommended": True},
            {"key": "large", "label": "Raise a lot"},
            {"key": "reject", "label": "Keep it"},
        ]
    )
    with pytest.raises(ValidationError, match="small, large"):
        decision_approve(decision_id=decision.pk, user=alice)
    decided = decision_approve(decision_id=decision.pk, user=alice, option_key="large")
    assert decided.chosen_option == "large"


def test_approve_refuses_a_stale_digest(make_decision, alice):
    decision = make_decision()
    with pytest.raises(ValidationError, match="changed since you opened it"):
        decision_approve(decision_id=decision.pk, user=alice, digest="0" * 64)
    ok = decision_approve(decision_id=decision.pk, user=alice, digest=decision.action_digest)
    assert ok.status == Decision.Status.APPROVED


def test_cancel_by_requester_or_system_but_not_by_an_outsider(make_decision, bob, charlie):
    mine = make_decision(requested_by=bob)
    with pytest.raises(PermissionDenied):
        decision_cancel(decision_id=mine.pk, reason="mine, not charlie's", user=charlie)
    decision_cancel(decision_id=mine.pk, reason="no longer needed", user=bob)
    mine.refresh_from_db()
    assert mine.status == Decision.Status.CANCELLED
    assert mine.outcome == "Cancelled: no longer needed"
    system = make_decision()
    decision_cancel(decision_id=system.pk, reason="the goal was dropped")
    event = AuditEvent.objects.for_subject(system).get(action="decisions.decision_cancelled")
    assert event.actor is None and event.data == {"reason": "the goal was dropped"}


def test_missing_decision_is_a_clear_error(alice):
    with pytest.raises(Decision.DoesNotExist, match="no decision #999"):
        decision_approve(decision_id=999, user=alice)


def test_subject_is_any_model(make_decision, alice):
    decision = make_decision(subject=alice)
    decision.refresh_from_db()
    assert decision.subject == alice
    assert decision.subject_repr == "alice"


def test_request_does_not_need_a_requester(alice):
    decision = decision_request(
        kind="anomaly",
        title="Sales fell 4σ below the mean",
        situation="Yesterday's sales were 4 standard deviations below the 30-day mean.",
        options=[
            {"key": "pause", "label": "Pause ads", "recommended": True},
            {"key": "reject", "label": "Carry on"},
        ],
        action="tests.record",
        action_args={"pause": True},
    )
    assert decision.requested_by is None
    assert AuditEvent.objects.get(action="decisions.decision_requested").actor is None
