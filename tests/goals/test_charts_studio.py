"""The studio's charts and the time-to-decide chart: the figures they draw come from the
database grouped by day or week, empty days are zeros, a person's score wins over the
model's, only decisions a person answered count, and the queries do not grow with the
number of ideas."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bizagent.svg import Series, bar_chart
from decisions.charts import decide_chart, decide_hours_by_week
from decisions.models import Decision
from goals.charts_studio import studio_charts
from goals.models import TokenGrant
from goals.selectors_charts import ideas_by_day, tokens_by_day
from ideas.models import Idea
from tests.goals.charts_setup import decided_after, ideas_on, noon, tokens_on
from tests.ideas.factories import ThemeFactory
from tests.personas import persona_create

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 18)  # a Wednesday


def test_ideas_by_day_counts_and_averages_per_day_with_empty_days_as_zero():
    theme = ThemeFactory()
    ideas_on(TODAY, theme=theme, scores=[6.0, 8.0])
    ideas_on(TODAY - dt.timedelta(days=3), theme=theme, scores=[2.0])
    ideas_on(TODAY - dt.timedelta(days=20), theme=theme, scores=[9.0])  # before the window
    ideas_on(TODAY, theme=ThemeFactory(status="archived"), scores=[1.0])  # another theme
    ideas_on(TODAY, theme=theme, scores=[1.0], status=Idea.Status.ARCHIVED)  # hidden

    days = ideas_by_day(theme=theme, today=TODAY)

    assert len(days) == 14 and days[0].day == TODAY - dt.timedelta(days=13)
    assert days[-1].day == TODAY
    assert (days[-1].created, days[-1].brand_fit, days[-1].novelty) == (2, 7.0, 7.0)
    assert (days[-4].created, days[-4].feasibility) == (1, 2.0)
    assert (days[-2].created, days[-2].brand_fit) == (0, None)
    assert sum(day.created for day in days) == 3


def test_a_persons_score_wins_over_the_models_in_the_average():
    theme = ThemeFactory()
    (idea,) = ideas_on(TODAY, theme=theme, scores=[2.0])
    Idea.objects.filter(pk=idea.pk).update(human_brand_fit=10.0)

    (today,) = ideas_by_day(theme=theme, today=TODAY, days=1)

    assert (today.brand_fit, today.novelty) == (10.0, 2.0)


def test_tokens_by_day_sums_each_day_against_the_budget_and_its_grants():
    theme = ThemeFactory()
    tokens_on(TODAY, theme=theme, tokens=[1000, 501])
    tokens_on(TODAY - dt.timedelta(days=1), theme=theme, tokens=[70])
    TokenGrant.objects.create(theme=theme, day=TODAY, tokens=5000)

    days = tokens_by_day(theme=theme, today=TODAY)

    budget = theme.daily_token_budget
    assert [(d.tokens, d.budget) for d in days[-3:]] == [
        (0, budget),
        (70, budget),
        (1501, budget + 5000),
    ]


def test_time_to_decide_is_the_median_of_what_people_answered_per_week():
    alice = persona_create("alice", app="decisions")
    monday = TODAY - dt.timedelta(days=TODAY.weekday())
    decided_after(1, on=TODAY, by=alice, title="a")
    decided_after(3, on=monday, by=alice, title="b")
    decided_after(30, on=monday, by=alice, title="c")
    decided_after(10, on=monday - dt.timedelta(days=3), by=alice, title="last week")
    expired = decided_after(500, on=TODAY, by=alice, title="nobody answered")
    Decision.objects.filter(pk=expired.pk).update(decided_by=None, status="expired")

    weeks = decide_hours_by_week(today=TODAY)

    assert len(weeks) == 8 and weeks[-1].week == monday
    assert (weeks[-1].decided, weeks[-1].median_hours) == (3, 3.0)
    assert (weeks[-2].decided, weeks[-2].median_hours) == (1, 10.0)
    assert (weeks[0].decided, weeks[0].median_hours) == (0, None)


def test_each_chart_is_a_labelled_image_that_escapes_its_words():
    theme = ThemeFactory()
    ideas_on(TODAY, theme=theme, scores=[5.0])
    charts = studio_charts(theme=theme, today=TODAY)
    for svg in (charts.ideas_svg, charts.tokens_svg, decide_chart(today=TODAY).svg):
        assert 'role="img"' in svg and "aria-label=" in svg and "<title>" in svg
    assert 'class="avg-brand-fit"' in charts.ideas_svg
    assert 'class="budget"' in charts.tokens_svg

    svg = bar_chart(
        labels=["<b>"], bars=[1], label='"><script>', css_class="x", lines=[Series("<i>", [1])]
    )
    assert "<script>" not in svg and "<b>" not in svg and "<i>" not in svg


def test_a_chart_refuses_figures_that_do_not_match_its_days():
    with pytest.raises(ValueError, match="2 bars for 1 labels"):
        bar_chart(labels=["a"], bars=[1, 2], label="x", css_class="x")
    with pytest.raises(ValueError, match="the line 'avg' has 2 values"):
        bar_chart(labels=["a"], bars=[1], label="x", css_class="x", lines=[Series("avg", [1, 2])])


def _queries(theme) -> int:
    with CaptureQueriesContext(connection) as captured:
        studio_charts(theme=theme, today=TODAY)
        decide_chart(today=TODAY)
    return len(captured)


def test_the_charts_make_the_same_few_queries_at_3_and_300_ideas():
    theme = ThemeFactory()
    alice = persona_create("alice", app="decisions")
    ideas_on(TODAY, theme=theme, scores=[5.0] * 3)
    decided_after(2, on=TODAY, by=alice, title="one")
    small = _queries(theme)

    for n in range(14):
        ideas_on(TODAY - dt.timedelta(days=n), theme=theme, scores=[float(n % 10)] * 21)
        tokens_on(TODAY - dt.timedelta(days=n), theme=theme, tokens=[100] * 3)
    ideas_on(TODAY, theme=theme, scores=[1.0] * 3)
    for n in range(20):
        decided_after(n, on=TODAY - dt.timedelta(days=n * 2), by=alice, title=f"d{n}")
    assert Idea.objects.filter(theme=theme).count() == 300
    large = _queries(theme)

    assert small == large == 4  # ideas 1, tokens 2, decisions 1


def test_the_window_follows_the_local_day():
    # An idea at noon today in the project's time zone is today's, whatever UTC says.
    theme = ThemeFactory()
    ideas_on(timezone.localdate(), theme=theme, scores=[4.0])
    assert ideas_by_day(theme=theme)[-1].created == 1
    assert noon(timezone.localdate()).date() == timezone.localdate()


def test_ideas_this_week_are_counted_up_to_the_cap_and_the_best_still_found(monkeypatch):
    from goals import selectors_home

    theme = ThemeFactory()
    monkeypatch.setattr(selectors_home, "IDEAS_COUNT_CAP", 4)
    today = timezone.localdate()
    ideas = ideas_on(today, theme=theme, scores=[5.0] * 4)
    old = ideas_on(today - dt.timedelta(days=10), theme=theme, scores=[9.0])
    Idea.objects.filter(pk=old[0].pk).update(priority=99.0)  # the best, but not this week
    for n, idea in enumerate(ideas):
        Idea.objects.filter(pk=idea.pk).update(priority=float(n))

    studio = selectors_home.home_studio()
    assert (studio.ideas_this_week, studio.ideas_this_week_over_cap) == (4, False)
    few = [idea.pk for idea in studio.best_new_ideas]

    ideas_on(today, theme=theme, scores=[1.0])  # a fifth: over the cap
    Idea.objects.filter(theme=theme, priority=5.0).update(priority=-1.0)
    studio = selectors_home.home_studio()
    assert studio.ideas_this_week_over_cap
    many = [idea.pk for idea in studio.best_new_ideas]
    expected = [idea.pk for idea in reversed(ideas)]
    assert few == expected and many[:4] == expected and old[0].pk not in many


def _python_ideas_by_day(theme, today: dt.date) -> list[tuple]:
    """The straightforward computation: every idea in Python, its local day, the mean of
    its effective scores (a person's winning), visible ideas of the theme only."""
    days = [today - dt.timedelta(days=13 - n) for n in range(14)]
    per_day: dict[dt.date, list[Idea]] = {day: [] for day in days}
    for idea in Idea.objects.all():
        day = timezone.localtime(idea.created_at).date()
        if idea.theme_id == theme.pk and idea.status in Idea.VISIBLE_STATUSES and day in per_day:
            per_day[day].append(idea)

    def mean(ideas: list[Idea], score: str) -> float | None:
        values = [
            v
            for v in (
                getattr(i, f"human_{score}")
                if getattr(i, f"human_{score}") is not None
                else getattr(i, score)
                for i in ideas
            )
            if v is not None
        ]
        return sum(values) / len(values) if values else None

    return [
        (day, len(ideas), *(mean(ideas, s) for s in ("brand_fit", "novelty", "feasibility")))
        for day, ideas in per_day.items()
    ]


def test_the_ideas_figures_match_a_straightforward_python_computation():
    theme = ThemeFactory()
    other = ThemeFactory(status="archived")
    statuses = [*Idea.VISIBLE_STATUSES, Idea.Status.ARCHIVED]
    midnight = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(0)))
    for n in range(60):
        score = float(n % 11)
        (idea,) = ideas_on(
            TODAY - dt.timedelta(days=n % 17),
            theme=other if n % 13 == 0 else theme,
            scores=[score],
            status=statuses[n % len(statuses)],
        )
        changes: dict = {}
        if n % 5 == 0:
            changes["human_novelty"] = 10.0 - score
        if n % 7 == 0:
            changes["feasibility"] = None
        if n % 9 == 0:  # on either side of a local midnight
            changes["created_at"] = midnight - dt.timedelta(days=n % 4, seconds=n % 2)
        if changes:
            Idea.objects.filter(pk=idea.pk).update(**changes)

    got = [
        (row.day, row.created, row.brand_fit, row.novelty, row.feasibility)
        for row in ideas_by_day(theme=theme, today=TODAY)
    ]

    expected = _python_ideas_by_day(theme, TODAY)
    assert [row[:2] for row in got] == [row[:2] for row in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine[2:] == pytest.approx(theirs[2:]), mine[0]
    assert sum(row[1] for row in got) > 20  # the portfolio really is in the window
