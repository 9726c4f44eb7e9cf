"""The goal page's query count does not grow with the goal's runs, decisions, reports and
revisions: one query per section (``goals.selectors_goal_page``)."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from goals.models import GoalReport, GoalRun, PlanRevision
from tests.goals.report_data import (
    at,
    day,
    decision_make,
    goal_make,
    reading,
    revision_make,
    run_make,
)
from tests.workflows.factories import RunFactory

pytestmark = pytest.mark.django_db

#: The user, the goal, then one per section (revisions, catalogue titles, snapshots, runs,
#: decisions, reports, closed-goal counts): the same at 3 rows as at 30.
MAX_QUERIES = 9


def _goal_with(rows: int):
    goal = goal_make(days=60)
    for n in range(rows):
        on = day(1 + n % 7)
        run = run_make(goal, on=on, action=f"action-{n}", status=GoalRun.Status.SUCCEEDED)
        GoalRun.objects.filter(pk=run.pk).update(run=RunFactory())
        decision_make(goal, asked=at(on), decided=at(on, 11) if n else None, n=n)
        GoalReport.objects.create(
            goal=goal,
            kind="daily",
            period_start=day(1 + n),
            period_end=day(1 + n),
            figures={"headline": f"report {n}"},
        )
        reading(day(1 + n), 10_000)
    for n in range(2, min(rows, 5) + 2):
        revision = revision_make(
            goal,
            number=n,
            on=day(n),
            reason=PlanRevision.Reason.ADJUSTMENT,
            approved_at=at(day(n), 13),
        )
        PlanRevision.objects.filter(pk=revision.pk).update(
            document={"adjustment": {"day": day(n).isoformat(), "cumulative_change": "0.05"}}
        )
    return goal


@pytest.mark.parametrize("rows", [3, 30])
def test_the_goal_page_reads_a_fixed_number_of_queries(
    client, alice, rows, django_assert_max_num_queries
):
    goal = _goal_with(rows)
    url = reverse("admin:goals_goal_change", args=[goal.pk])
    with time_machine.travel(at(day(40)), tick=False):
        client.force_login(alice)
        # A session's first page reads and caches the person's language (once per
        # session and ten minutes); the goal page is counted as a person reaches it.
        client.get(reverse("admin:index"))
        with django_assert_max_num_queries(MAX_QUERIES):
            response = client.get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('class="goal-run-link"') == rows
    assert html.count("Raise the outreach volume #") == rows
    assert html.count("<td>Daily</td>") == rows
