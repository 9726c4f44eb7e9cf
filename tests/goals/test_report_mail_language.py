"""A goal's report mail and its Telegram copy are written per reader in their own
language (their Profile, else BIZAGENT_LANGUAGE): one mail per language. Expected words
are ``gettext`` under each language over the pseudo-Japanese catalogue."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext

from decisions.services.person import person_language_set
from tests.bizagent.i18n_pseudo import pseudo_ja  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pseudo_ja")]


def said(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


def test_alice_reads_the_report_in_japanese_and_bob_in_english(alice, bob, smtp_server, settings):
    from goals.services.reports import goal_report_make, goal_report_send
    from tests.goals.report_data import day, goal_make, reading

    settings.LANGUAGE_CODE = "en"
    person_language_set(user=alice, language="ja")  # an approver: hears of every goal
    goal = goal_make(requested_by=bob)  # bob asked for it; he chose nothing: BIZAGENT_LANGUAGE
    reading(day(1), 1_234_567)
    report = goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(1))
    assert goal_report_send(report_id=report.pk) == 2
    mails = {tuple(m.rcpt_tos): m for m in smtp_server.messages}
    assert set(mails) == {("alice@example.com",), ("bob@example.com",)}
    for address, language in (("alice@example.com", "ja"), ("bob@example.com", "en")):
        mail = mails[(address,)]
        assert said("Needed per day from now:", language) in mail.part("text/plain")
        assert f'<html lang="{language}">' in mail.part("text/html")
    assert said("Needed per day from now:", "ja") != said("Needed per day from now:", "en")
    # Sent once: a second call finds it claimed.
    assert goal_report_send(report_id=report.pk) == 0
    assert len(smtp_server.messages) == 2


def test_a_retry_after_a_partial_send_sends_only_the_languages_still_owed(
    alice, bob, smtp_server, settings
):
    """The first language went out, the second was refused: the claim is given back and
    the retry sends the second alone, so nobody gets the report twice."""
    from goals.models import GoalReport
    from goals.services.reports import (
        _recipients_by_language,
        goal_report_make,
        goal_report_send,
    )
    from tests.goals.report_data import day, goal_make, reading

    settings.LANGUAGE_CODE = "en"
    person_language_set(user=alice, language="ja")
    goal = goal_make(requested_by=bob)
    reading(day(1), 1_234_567)
    report = goal_report_make(goal_id=goal.pk, kind="daily", period_end=day(1))
    (first, first_to), (second, second_to) = _recipients_by_language(goal).items()
    smtp_server.handler.refused = set(second_to)

    with pytest.raises(Exception, match="550"):
        goal_report_send(report_id=report.pk)
    report.refresh_from_db()
    assert report.emailed_at is None  # the claim was given back
    assert report.languages_emailed == [first]
    assert [m.rcpt_tos for m in smtp_server.messages] == [first_to]

    smtp_server.handler.refused = set()
    assert goal_report_send(report_id=report.pk) == 2  # the report's readers, all told
    report.refresh_from_db()
    assert report.emailed_at is not None and report.recipients == 2
    assert sorted(report.languages_emailed) == sorted([first, second])
    assert [m.rcpt_tos for m in smtp_server.messages] == [first_to, second_to]
    assert GoalReport.objects.filter(pk=report.pk, recipients=2).exists()
