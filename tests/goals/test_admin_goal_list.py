"""The goals list shows what a person needs first: the sentence, a progress bar with its
percentage, the status in words (with the trend while active) and the deadline."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse
from django.utils.formats import date_format

from goals.models import Goal
from tests.goals.report_data import at, day, goal_make, reading

pytestmark = pytest.mark.django_db


def _list(client) -> str:
    response = client.get(reverse("admin:goals_goal_changelist"))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_sentence_progress_status_and_deadline(client, bob):
    goal = goal_make(text="Sell two million yen in a week", target=2_000_000)
    reading(day(1), 300_000)
    reading(day(2), 300_000)
    client.force_login(bob)
    with time_machine.travel(at(day(3)), tick=False):
        html = _list(client)
    assert "Sell two million yen in a week" in html
    assert "<progress class='goal-progress' max='100' value='30'" in html
    assert "<b>30%</b>" in html
    assert "¥600,000 of ¥2,000,000" in html
    assert "Active, " in html
    assert date_format(goal.period_end, "DATE_FORMAT") in html


def test_a_goal_without_figures_says_so_and_a_closed_goal_shows_its_status(client, bob):
    goal_make(text="Thirty new members", status=Goal.Status.CANCELLED)
    client.force_login(bob)
    html = _list(client)
    assert "Thirty new members" in html
    assert "Cancelled" in html
    assert "Cancelled," not in html  # the trend is only for a goal still running


def test_the_list_reads_the_readings_once_for_the_whole_page(client, bob):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(bob)
    goal_make(text="one")
    _list(client)
    with CaptureQueriesContext(connection) as few:
        _list(client)
    for n in range(8):
        goal_make(text=f"goal {n}")
    with CaptureQueriesContext(connection) as many:
        _list(client)
    assert len(many) == len(few)
