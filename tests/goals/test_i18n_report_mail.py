"""The goal report mail is written in BIZAGENT_LANGUAGE, through the catalogue (checked
with pseudo-Japanese): subject, headline and wrapper words."""

from __future__ import annotations

import pytest

from tests.bizagent.i18n_pseudo import pseudo, pseudo_ja  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


@pytest.mark.usefixtures("pseudo_ja")
def test_a_goal_report_mail_is_written_in_bizagent_language(alice, smtp_server, settings):
    from goals.services.reports import goal_report_make, goal_report_send
    from tests.goals.report_data import day, goal_make, reading

    settings.LANGUAGE_CODE = "ja"
    goal = goal_make()
    reading(day(1), 1_234_567)
    report = goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(1))
    assert goal_report_send(report_id=report.pk) > 0
    [mail] = smtp_server.messages
    subject = str(mail.message["Subject"]).strip()
    text, html = mail.part("text/plain"), mail.part("text/html")
    headline_start = pseudo("%(achieved)s of %(target)s (%(percent)s%%)") % {
        "achieved": "¥1,234,567",
        "target": "¥2,000,000",
        "percent": 62,
    }
    assert headline_start in subject
    assert subject.startswith("〔Goal #")
    assert pseudo("Needed per day from now:") in text and pseudo("Goal page:") in text
    assert pseudo("Needed per day from now") in html and pseudo("Open the goal page") in html
    assert '<html lang="ja">' in html
    for body in (text, html):
        assert headline_start in body
