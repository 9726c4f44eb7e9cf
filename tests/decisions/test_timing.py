"""Reminders and expiry under a controlled clock (time-machine), never by sleeping.

The governance tick is what the django-q2 schedule runs every minute; each test calls
it at chosen instants and checks that every reminder and every expiry happens once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django_q.models import Schedule

from decisions.models import AuditEvent, Decision, DecisionMail
from decisions.services import governance_schedules_ensure, reminder_points
from decisions.tasks import governance_tick
from tests.concurrency import run_together

# Real commits, so the after-commit mail tasks run (django-q2 in sync mode).
pytestmark = pytest.mark.django_db(transaction=True)

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _tick_at(moment: datetime) -> dict[str, list[int]]:
    with time_machine.travel(moment, tick=False):
        return governance_tick()


def _reminders(decision: Decision) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.for_subject(decision)
        .filter(action="decisions.decision_reminded")
        .order_by("id")
    )


@pytest.fixture
def decision(make_decision, alice, settings, q_sync, mailoutbox):
    settings.DECISION_TIMEOUT_HOURS = 24
    with time_machine.travel(START, tick=False):
        made = make_decision()
    mailoutbox.clear()  # the "decision needed" mail
    return made


def test_default_due_time_comes_from_decision_timeout(make_decision, settings):
    settings.DECISION_TIMEOUT_HOURS = 6
    with time_machine.travel(START, tick=False):
        made = make_decision()
    assert made.due_at == START + timedelta(hours=6)


def test_reminder_points_are_half_time_and_an_hour_before(decision):
    assert reminder_points(decision) == [START + timedelta(hours=12), START + timedelta(hours=23)]


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (3, [1.5, 2.0]),  # 30 minutes apart: both
        (2.5, [1.25]),  # 15 minutes apart: only half time
        (1, [0.5]),
    ],
)
def test_short_deadlines_drop_the_second_reminder(make_decision, hours, expected):
    with time_machine.travel(START, tick=False):
        made = make_decision(due_at=START + timedelta(hours=hours))
    assert reminder_points(made) == [START + timedelta(hours=h) for h in expected]


def test_each_reminder_goes_out_once_then_the_decision_expires_and_holds(
    decision, recorded, mailoutbox
):
    assert _tick_at(START + timedelta(hours=11, minutes=59))["reminded"] == []
    assert mailoutbox == []

    assert _tick_at(START + timedelta(hours=12))["reminded"] == [decision.pk]
    assert _tick_at(START + timedelta(hours=12, minutes=1))["reminded"] == []
    assert _tick_at(START + timedelta(hours=22))["reminded"] == []
    decision.refresh_from_db()
    assert decision.reminders_sent == 1
    assert decision.last_reminder_at == START + timedelta(hours=12)
    assert [m.subject for m in mailoutbox] == [f"Reminder, decision still open: {decision.title}"]
    assert mailoutbox[0].to == ["alice@example.com"]

    assert _tick_at(START + timedelta(hours=23))["reminded"] == [decision.pk]
    assert _tick_at(START + timedelta(hours=23, minutes=30))["reminded"] == []
    assert len(_reminders(decision)) == 2
    assert [event.data["reminder"] for event in _reminders(decision)] == [1, 2]
    assert len(mailoutbox) == 2

    assert _tick_at(START + timedelta(hours=23, minutes=59))["expired"] == []
    result = _tick_at(START + timedelta(hours=24))
    assert result["expired"] == [decision.pk]
    assert _tick_at(START + timedelta(hours=24, minutes=1))["expired"] == []

    decision.refresh_from_db()
    assert decision.status == Decision.Status.EXPIRED
    assert decision.on_timeout == Decision.OnTimeout.HOLD
    assert "held" in decision.outcome and "not run" in decision.outcome
    assert decision.decided_by is None
    assert recorded == []  # the action never ran
    expired = AuditEvent.objects.for_subject(decision).get(action="decisions.decision_expired")
    assert expired.actor is None and expired.data["on_timeout"] == "hold"
    assert mailoutbox[-1].subject == f"Decision expired without an answer: {decision.title}"
    assert DecisionMail.objects.filter(decision=decision, event="expired").count() == 1
    assert len(mailoutbox) == 3


def test_a_cluster_that_was_down_sends_one_reminder_not_a_burst(decision, mailoutbox):
    assert _tick_at(START + timedelta(hours=23, minutes=10))["reminded"] == [decision.pk]
    decision.refresh_from_db()
    assert decision.reminders_sent == 2
    assert len(_reminders(decision)) == 1
    assert len(mailoutbox) == 1
    assert _tick_at(START + timedelta(hours=23, minutes=20))["reminded"] == []


def test_down_past_the_due_time_expires_without_reminding(decision, mailoutbox):
    result = _tick_at(START + timedelta(hours=30))
    assert result["expired"] == [decision.pk] and result["reminded"] == []
    assert [m.subject.split(":")[0] for m in mailoutbox] == ["Decision expired without an answer"]


def test_decided_decisions_are_neither_reminded_nor_expired(decision, alice):
    from decisions.services import decision_reject

    with time_machine.travel(START + timedelta(hours=1), tick=False):
        decision_reject(decision_id=decision.pk, user=alice)
    assert _tick_at(START + timedelta(hours=12))["reminded"] == []
    assert _tick_at(START + timedelta(hours=25))["expired"] == []
    assert Decision.objects.get(pk=decision.pk).status == Decision.Status.REJECTED


@pytest.mark.postgres
def test_overlapping_ticks_remind_and_expire_once(decision, mailoutbox):
    """Ticks running at once (a slow tick and the next one) act once between them."""
    moment = START + timedelta(hours=12)
    results, errors = run_together(lambda i: _tick_at(moment)["reminded"], 3)
    assert not errors, errors
    assert sorted(results) == [[], [], [decision.pk]]
    assert len(_reminders(decision)) == 1
    assert len(mailoutbox) == 1

    results, errors = run_together(lambda i: _tick_at(START + timedelta(hours=24))["expired"], 3)
    assert not errors, errors
    assert sorted(results) == [[], [], [decision.pk]]
    assert AuditEvent.objects.filter(action="decisions.decision_expired").count() == 1


def test_schedules_are_created_once_and_corrected(settings):
    settings.SHEETS_SYNC_MINUTES = 5
    assert sorted(governance_schedules_ensure()) == [
        "decisions.governance_tick",
        "decisions.sheets_sync",
        "decisions.telegram_outbox",
        "decisions.telegram_poll",
    ]
    assert governance_schedules_ensure() == []
    tick = Schedule.objects.get(name="decisions.governance_tick")
    assert tick.func == "decisions.tasks.governance_tick"
    assert tick.schedule_type == Schedule.MINUTES and tick.minutes == 1 and tick.repeats == -1
    Schedule.objects.filter(name="decisions.sheets_sync").update(minutes=60)
    assert governance_schedules_ensure() == ["decisions.sheets_sync"]
    assert Schedule.objects.get(name="decisions.sheets_sync").minutes == 5
    assert Schedule.objects.filter(name__startswith="decisions.").count() == 4


def test_a_schedule_made_before_the_sheets_task_moved_is_pointed_at_its_new_home(settings):
    # ``sheets_sync_task`` lived in ``decisions.mirror``; an installation's schedule row
    # still names it there until ``governance_schedules`` (run by ``make run``) fixes it.
    settings.SHEETS_SYNC_MINUTES = 5
    Schedule.objects.create(
        name="decisions.sheets_sync",
        func="decisions.mirror.sheets_sync_task",
        schedule_type=Schedule.MINUTES,
        minutes=5,
        repeats=-1,
    )
    assert "decisions.sheets_sync" in governance_schedules_ensure()
    assert Schedule.objects.get(name="decisions.sheets_sync").func == (
        "decisions.tasks.sheets_sync_task"
    )


def test_the_scheduled_function_paths_resolve():
    from django.utils.module_loading import import_string

    governance_schedules_ensure()
    for schedule in Schedule.objects.filter(name__startswith="decisions."):
        assert callable(import_string(schedule.func))


def test_outcome_mail_reaches_approvers_once(make_decision, alice, q_sync, mailoutbox):
    from decisions.services import decision_approve

    made = make_decision()
    decision_approve(decision_id=made.pk, user=alice)
    subjects = [m.subject for m in mailoutbox]
    assert subjects[0] == f"Decision needed: {made.title}"
    assert len([s for s in subjects if s.startswith("Decision ") and "needed" not in s]) == 1
    assert mail.outbox is mailoutbox
