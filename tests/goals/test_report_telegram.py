"""Goal reports and anomalies on Telegram: to those whose preference says so, as a short
message in business words (amounts formatted, no model analysis), through the outbox,
once per report or anomaly and person however often the ticks run; the report mail
follows each person's goal-report preference."""

from __future__ import annotations

import pytest
import time_machine
from django.core import mail

from decisions.models import TelegramMessage
from decisions.services.notify_prefs import notify_prefs_update
from decisions.services.telegram import (
    telegram_link_bind,
    telegram_link_token_issue,
    telegram_outbox_deliver,
)
from goals.services.monitor import goal_monitor
from goals.services.reports import goals_report_due
from tests.decisions.telegram_fake import telegram  # noqa: F401 - the fake Bot API fixture
from tests.goals import monitor_setup
from tests.goals.report_data import at, day, goal_make, reading
from tests.personas import person_create

# The fake Bot API for every test here (imported above; its settings point at it).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("telegram")]
ALICE_TG = 9001
DORA_TG = 9002


def link(user, telegram_id: int) -> None:
    telegram_link_bind(
        token=telegram_link_token_issue(user=user),
        telegram_user_id=telegram_id,
        chat_id=telegram_id,
    )


def _tick(n: int, hour: int = 1):
    with time_machine.travel(at(day(n), hour), tick=False):
        return goals_report_due()


def test_a_report_reaches_telegram_once_for_those_who_chose_it(alice, request):
    fake = request.getfixturevalue("telegram")
    dora = person_create("dora", staff=False)
    link(alice, ALICE_TG)
    link(dora, DORA_TG)
    notify_prefs_update(user=alice, choices={"goal_report": "telegram"})
    notify_prefs_update(user=dora, choices={"goal_report": "both"})
    goal = goal_make(requested_by=dora)
    reading(day(1), 1_234_567)
    first = _tick(2)
    _tick(2, hour=2)  # the same day again: nothing new
    assert first.telegram == 2

    notices = list(TelegramMessage.objects.filter(purpose="notice").order_by("chat_id"))
    assert [n.chat_id for n in notices] == [ALICE_TG, DORA_TG]
    text = notices[0].text
    assert text.startswith(f"Goal #{goal.pk} daily report for 2026-12-01")
    assert "¥1,234,567 of ¥2,000,000 (62%)" in text
    assert "Needed per day from now: ¥127,573" in text
    assert f"/admin/goals/goal/{goal.pk}/change/" in text
    # The mail goes to dora (both), not to alice (Telegram only).
    assert [m.to for m in mail.outbox] == [[dora.email]]

    with time_machine.travel(at(day(2), 3), tick=False):
        telegram_outbox_deliver()
    assert sorted(m["chat"]["id"] for m in fake.sent) == [ALICE_TG, DORA_TG]


def test_by_default_reports_stay_email_only(alice):
    link(alice, ALICE_TG)
    goal_make()
    reading(day(1), 500_000)
    tick = _tick(2)
    assert tick.telegram == 0 and len(tick.emailed) == 1
    assert not TelegramMessage.objects.exists()
    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_a_report_whose_telegram_step_was_cut_short_is_queued_by_the_next_tick(alice, monkeypatch):
    from goals.services import reports

    link(alice, ALICE_TG)
    notify_prefs_update(user=alice, choices={"goal_report": "telegram"})
    goal_make()
    reading(day(1), 500_000)

    def crash(**kwargs):
        raise ConnectionError("worker killed")

    monkeypatch.setattr(reports, "goal_report_telegram", crash)
    assert _tick(2).errors  # made, but not queued on Telegram
    monkeypatch.undo()
    assert _tick(2, hour=2).telegram == 1
    assert TelegramMessage.objects.filter(purpose="notice").count() == 1


def test_an_anomaly_reaches_telegram_once_in_business_words(alice):
    link(alice, ALICE_TG)
    notify_prefs_update(user=alice, choices={"anomaly": "telegram"})
    goal = monitor_setup.goal_active(target=2_000_000)
    monitor_setup.readings(
        100_000, 104_000, 98_000, 101_000, 97_000, 103_000, 99_000, 102_000, 9_000, 8_000
    )
    goal_monitor(goal_id=goal.pk, today=monitor_setup.day(10))
    # The drop goes on the next day: the same anomaly, no second message.
    monitor_setup.readings(7_000, start=monitor_setup.day(10))
    goal_monitor(goal_id=goal.pk, today=monitor_setup.day(11))

    [notice] = TelegramMessage.objects.filter(purpose="notice")
    assert notice.chat_id == ALICE_TG
    assert f"Goal #{goal.pk}" in notice.text and "dropped for 2 days in a row" in notice.text
    assert "Mar 09: ¥9,000" in notice.text
    assert "A usual day before was ¥100,500." in notice.text
    assert "A decision asks what to do" in notice.text
