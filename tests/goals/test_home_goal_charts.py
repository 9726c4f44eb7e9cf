"""The home page's Goals section draws a small chart per goal (cumulative actual,
target line, forecast band) that links to the goal page's chart, and reads every shown
goal's snapshots in one query: the same queries at 1 goal as at 20."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from goals.selectors_home import GOALS_SHOWN, home_goals
from tests.goals.home_setup import goal_behind

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}
URL = reverse("home:section", args=["goals"])


def _section(client) -> tuple[str, int]:
    client.get(URL, **HX)  # warm the per-process caches (content types, permissions)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(URL, **HX)
    assert response.status_code == 200
    return response.content.decode(), len(captured)


def test_each_goal_has_a_small_chart_linking_to_its_goal_pages_chart(client, alice):
    behind = goal_behind(text="Sell more lamps")
    quiet = goal_behind(text="Sell <b>pillows</b>", readings=False)
    client.force_login(alice)
    html, _queries = _section(client)

    for goal in (behind, quiet):
        row = html[html.index(f'id="home-goal-{goal.pk}"') :]
        row = row[: row.index("</tr>")]
        link = re.search(r'<a class="home-goal-chart" href="([^"]+)"[^>]*>(.*?)</a>', row, re.S)
        assert link, row
        assert link.group(1) == (
            reverse("admin:goals_goal_change", args=[goal.pk]) + "#goal-progress"
        )
        svg = link.group(2)
        assert 'role="img"' in svg and "goal-chart-small" in svg
        assert f"forecast to {goal.period_end.isoformat()}" in svg
    # Ten days of readings: the actual line and the forecast band; the text stays beside.
    row = html[html.index(f'id="home-goal-{behind.pk}"') :]
    assert 'class="actual"' in row[: row.index("</tr>")]
    assert 'class="forecast"' in row[: row.index("</tr>")]
    assert "¥100,000 of ¥1,000,000 (10%)" in row[: row.index("</tr>")]
    # A goal's words are escaped inside the chart's title.
    assert "<b>pillows</b>" not in html and "Sell &lt;b&gt;pillows&lt;/b&gt;" in html


def test_the_small_charts_figures_are_the_forecasts():
    goal_behind()
    [row], total = home_goals()
    assert total == 1
    # 100,000 so far: the cumulative actual ends at the row's achieved figure.
    assert row.forecast.achieved == 100_000
    assert 'class="target"' in row.chart_svg


def test_the_goals_section_makes_the_same_queries_at_1_and_20_goals(client, alice):
    client.force_login(alice)
    goal_behind(text="Goal 0")
    one_html, one = _section(client)
    assert one_html.count('class="home-goal-chart"') == 1

    for n in range(1, 20):
        goal_behind(text=f"Goal {n}", readings=False)
    many_html, many = _section(client)
    assert many_html.count('class="home-goal-chart"') == GOALS_SHOWN

    assert many == one
