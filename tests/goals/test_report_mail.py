"""Goal report mails through a real SMTP server on loopback (aiosmtpd): who gets them,
both parts in business words, the goal text escaped, once however often the tick runs,
kept but not mailed with nobody to mail, and retried after the SMTP server was down."""

from __future__ import annotations

import socket

import pytest
import time_machine

from decisions.models import AuditEvent
from goals.models import Goal, GoalReport
from goals.services.reports import goal_report_make, goal_report_send, goals_report_due
from tests.goals.report_data import at, day, goal_make, reading
from tests.personas import person_create

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tick(n: int, hour: int = 1):
    with time_machine.travel(at(day(n), hour), tick=False):
        return goals_report_due()


def test_the_report_goes_once_to_the_asker_and_the_decision_staff_with_both_parts(
    alice, smtp_server
):
    dora = person_create("dora", staff=False)
    person_create("nomail", superuser=True, email="")
    goal = goal_make(text='1週間で200万作りたい <script>alert("x")</script>', requested_by=dora)
    reading(day(1), 1_234_567)
    first = _tick(2)
    second = _tick(2, hour=2)

    [received] = smtp_server.messages
    assert sorted(received.rcpt_tos) == ["alice@example.com", "dora@example.com"]
    headline = "¥1,234,567 of ¥2,000,000 (62%) — not enough data for a trend yet"
    # (the parser keeps the space before an encoded word: strip it)
    subject = str(received.message["Subject"]).strip()
    assert subject.startswith(f"Goal #{goal.pk} daily report 2026-12-01: {headline}")
    text, html = received.part("text/plain"), received.part("text/html")
    for body in (text, html):
        assert headline in body
        assert "forecast ¥8.6M by 12/7" in body  # 1,234,567 a day for 7 days
        assert "Needed per day from now: " in text
        assert "¥127,573" in body  # (2,000,000 − 1,234,567) / 6 days, rounded up
        assert "0 started, 0 succeeded, 0 failed" in body
    assert '<script>alert("x")</script>' in text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
    assert f"/admin/goals/goal/{goal.pk}/change/" in html

    report = GoalReport.objects.get(goal=goal)
    assert report.emailed_at is not None and report.recipients == 2
    assert first.emailed == [report.pk] and second.emailed == []
    assert AuditEvent.objects.filter(action="goals.report_emailed").count() == 1


def test_other_currencies_keep_their_decimals(alice, smtp_server):
    goal_make(text="Make $5,000 this week", target=500_000, currency="USD")
    reading(day(1), 123_450, currency="USD")
    _tick(2)
    [received] = smtp_server.messages
    assert "$1,234.50 of $5,000.00 (25%)" in received.part("text/plain")


def test_with_nobody_to_mail_the_report_is_kept_and_the_audit_log_says_why(smtp_server):
    goal = goal_make(requested_by=person_create("erin", staff=False, email=""))
    first = _tick(2)
    second = _tick(2, hour=2)
    report = GoalReport.objects.get(goal=goal)
    assert smtp_server.messages == []
    assert report.emailed_at is None and report.recipients == 0
    assert first.unsent == [report.pk] and second.unsent == [report.pk]
    [event] = AuditEvent.objects.filter(action="goals.report_not_emailed")
    assert "nobody with an email address" in event.data["reason"]


def test_when_smtp_is_down_the_next_tick_sends_it_once(alice, smtp_server, settings):
    goal = goal_make()
    reading(day(1), 100_000)
    settings.EMAIL_PORT = _closed_port()
    down = _tick(2)
    report = GoalReport.objects.get(goal=goal)
    assert down.made == [report.pk] and down.emailed == []
    assert down.errors == [f"report {report.pk} mail: ConnectionRefusedError"]
    report.refresh_from_db()
    assert report.emailed_at is None  # the claim was given back

    settings.EMAIL_PORT = smtp_server.port
    up = _tick(2, hour=2)
    again = _tick(2, hour=3)
    assert up.made == [] and up.emailed == [report.pk] and again.emailed == []
    assert len(smtp_server.messages) == 1
    report.refresh_from_db()
    assert report.recipients == 1


def test_a_report_marked_as_sent_is_never_sent_again(alice, smtp_server):
    """A crash after the SMTP server took the mail, before the recipients were written,
    leaves the claim (``emailed_at``) in place: the report is not sent a second time."""
    goal = goal_make()
    with time_machine.travel(at(day(2), 1), tick=False):
        report = goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(1))
        GoalReport.objects.filter(pk=report.pk).update(emailed_at=at(day(2), 1))
        assert goal_report_send(report_id=report.pk) == 0
        assert goals_report_due().emailed == []
    assert smtp_server.messages == []


def test_the_final_report_says_the_goal_was_achieved(alice, smtp_server):
    goal = goal_make(status=Goal.Status.ACHIEVED)
    reading(day(1), 2_000_000)
    _tick(3)
    [received] = smtp_server.messages
    assert str(received.message["Subject"]).strip() == (
        f"Goal #{goal.pk} achieved: ¥2,000,000 of ¥2,000,000 (100%) — goal achieved"
    )
    assert "Status: Achieved" in received.part("text/plain")
