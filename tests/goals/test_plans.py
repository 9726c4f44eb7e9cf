"""``plan_figures_read`` and the plan a goal gets from them (issue 10, "current state").

The figures come from MetricSnapshot rows: achieved so far in the period (revenue and
trials summed to yesterday, customers gained as a difference of counts), ARPU over the
last 30 days, a growth goal's baseline; one source per metric, a person's entry first.
"""

from __future__ import annotations

import datetime as dt

import pytest

from goals.models import MetricSnapshot
from goals.services.goals import goal_create, goal_plan, goal_understand, understanding_draft
from goals.services.plans import ARPU_WINDOW_DAYS, plan_figures_read

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)
START = dt.date(2026, 11, 1)
Source = MetricSnapshot.Source


def snap(source: str, metric: str, day: dt.date, value: int) -> None:
    MetricSnapshot.objects.create(
        source=source,
        metric=metric,
        date=day,
        value=value,
        currency="JPY" if metric == "revenue" else "",
    )


def test_revenue_achieved_sums_the_period_to_yesterday():
    snap(Source.WHOP, "revenue", START, 100_000)
    snap(Source.WHOP, "revenue", dt.date(2026, 11, 29), 50_000)
    snap(Source.WHOP, "revenue", TODAY, 999_000)  # today is a remaining day
    snap(Source.WHOP, "revenue", START - dt.timedelta(days=1), 777_000)  # before the period

    figures = plan_figures_read(metric="revenue", currency="JPY", start=START, today=TODAY)

    assert figures.achieved == 150_000
    assert figures.sources["achieved"] == "whop"
    assert not any("achieved" in a for a in figures.assumptions)


def test_one_source_per_metric_and_a_persons_entry_wins():
    snap(Source.WHOP, "revenue", START, 100_000)
    snap(Source.SHEETS, "revenue", START, 300_000)
    snap(Source.MANUAL, "revenue", START, 120_000)

    figures = plan_figures_read(metric="revenue", currency="JPY", start=START, today=TODAY)

    assert figures.achieved == 120_000  # never 520,000: sources are not added up
    assert figures.sources["achieved"] == "manual"


def test_revenue_in_another_currency_is_not_read():
    MetricSnapshot.objects.create(
        source=Source.WHOP, metric="revenue", date=START, value=10_000, currency="USD"
    )

    figures = plan_figures_read(metric="revenue", currency="JPY", start=START, today=TODAY)

    assert figures.achieved is None
    assert any("no JPY revenue snapshot" in a for a in figures.assumptions)


def test_customers_achieved_is_the_count_gained_since_the_period_began():
    snap(Source.WHOP, "customers", START - dt.timedelta(days=3), 40)
    snap(Source.WHOP, "customers", dt.date(2026, 11, 20), 52)
    snap(Source.WHOP, "customers", TODAY, 55)

    figures = plan_figures_read(metric="customers", currency="JPY", start=START, today=TODAY)

    assert figures.achieved == 15
    assert figures.arpu is None and figures.assumptions == ()  # a count goal needs no ARPU


def test_trials_achieved_sums_the_workflow_run_counts():
    snap(Source.WORKFLOW_RUNS, "trials", dt.date(2026, 11, 10), 4)
    snap(Source.WORKFLOW_RUNS, "trials", dt.date(2026, 11, 11), 6)

    figures = plan_figures_read(metric="trials", currency="JPY", start=START, today=TODAY)

    assert figures.achieved == 10 and figures.sources["achieved"] == "workflow_runs"


def test_arpu_is_the_last_30_days_revenue_per_customer():
    snap(Source.WHOP, "revenue", TODAY - dt.timedelta(days=ARPU_WINDOW_DAYS), 300_000)
    snap(Source.WHOP, "revenue", TODAY - dt.timedelta(days=1), 200_000)
    snap(Source.WHOP, "revenue", TODAY - dt.timedelta(days=ARPU_WINDOW_DAYS + 1), 9_000_000)
    snap(Source.WHOP, "customers", TODAY, 100)

    figures = plan_figures_read(metric="revenue", currency="JPY", start=TODAY, today=TODAY)

    assert figures.arpu == 5_000  # 500,000 / 100
    assert not any("ARPU" in a for a in figures.assumptions)


def test_without_snapshots_each_unread_figure_is_an_assumption():
    figures = plan_figures_read(metric="revenue", currency="JPY", start=START, today=TODAY)

    assert figures.achieved is None and figures.arpu is None
    assert any(a.startswith("achieved so far is assumed to be 0") for a in figures.assumptions)
    assert any(a.startswith("ARPU is unknown") for a in figures.assumptions)


def test_the_plan_uses_the_figures_read():
    for day in (dt.date(2026, 11, 28), dt.date(2026, 11, 29)):
        snap(Source.WHOP, "revenue", day, 300_000)
    snap(Source.WHOP, "customers", TODAY, 60)
    understanding = goal_understand(
        text="1週間で200万作りたい", today=dt.date(2026, 11, 28), default_currency="JPY"
    )
    draft = understanding_draft(understanding=understanding, today=TODAY, use_model=False)

    # Period 11-28..12-04; 600,000 achieved by yesterday; 1,400,000 over 5 days left.
    assert draft.document["daily_target"] == "280000"
    assert draft.document["arpu"] == "10000"  # 600,000 / 60
    assert draft.document["assumptions"] == []
    assert draft.document["sources"] == {"achieved": "whop", "arpu": "whop/whop"}


def test_a_growth_goal_with_a_baseline_reading_becomes_an_absolute_target():
    snap(Source.WHOP, "revenue", dt.date(2026, 11, 5), 600_000)
    snap(Source.WHOP, "revenue", dt.date(2026, 11, 20), 400_000)

    understanding = goal_understand(
        text="来月の売上を前月比20%アップ", today=TODAY, default_currency="JPY"
    )
    goal = goal_create(understanding=understanding, actor=None)

    assert understanding.to_json()["baseline"]["amount"] == "1000000"
    assert goal.baseline_amount == 1_000_000 and goal.target_amount == 1_200_000
    revision = goal_plan(goal=goal, today=TODAY, actor=None)
    assert revision.document["days_remaining"] == 31


def test_a_growth_goal_without_a_baseline_reading_asks():
    # October is not the baseline of December's goal (November is).
    snap(Source.WHOP, "revenue", dt.date(2026, 10, 5), 600_000)
    understanding = goal_understand(
        text="来月の売上を前月比20%アップ", today=TODAY, default_currency="JPY"
    )

    assert not understanding.ready
    assert [q.code for q in understanding.questions] == ["no_baseline_amount"]


# --- a plan that cannot run is said before it runs ------------------------------------


def _customers_plan():
    from goals.services.plans import plan_prepare

    return plan_prepare(
        text="今月100人の顧客を獲得したい",
        metric="customers",
        target=100,
        currency="JPY",
        start=START,
        end=dt.date(2026, 12, 1),  # 50 a day: more than trial onboarding alone gives
        today=TODAY,
        use_model=False,
    ).document


def test_a_chosen_workflow_needing_inputs_nobody_supplies_is_a_risk_naming_them(alice):
    from goals.models import CatalogueItem
    from goals.services.catalogue import catalogue_workflows_install

    catalogue_workflows_install(actor=alice)

    risks = [r for r in _customers_plan()["risks"] if r["kind"] == "missing_inputs"]

    assert len(risks) == 2  # both chosen workflows: nothing is configured yet
    outreach = next(r["message"] for r in risks if r["message"].startswith("cold-outreach"))
    assert "prospects_url, email_api_url, language, product, sender" in outreach
    assert "sends_per_day" not in outreach  # the plan's own volume is supplied
    CatalogueItem.objects.filter(key="cold_outreach").update(
        run_inputs={
            "prospects_url": "http://127.0.0.1/p",
            "email_api_url": "http://127.0.0.1/m",
            "language": "ja",
            "product": "App",
            "sender": "Aiko",
        }
    )
    after = [r["message"] for r in _customers_plan()["risks"] if r["kind"] == "missing_inputs"]
    assert [m.split(" ")[0] for m in after] == ["trial-onboarding"]


def test_a_plan_with_no_action_does_not_start_the_goal_stays_planned_and_says_why():
    from decisions.models import AuditEvent, Decision
    from goals.models import Goal
    from goals.services.plans import goal_start

    understanding = goal_understand(
        text="1週間で200万作りたい", today=TODAY, default_currency="JPY"
    )
    draft = understanding_draft(understanding=understanding, today=TODAY, use_model=False)
    assert [n["code"] for n in draft.document["needs"]] == ["no_arpu"]
    goal = goal_create(understanding=understanding, actor=None)
    goal_plan(goal=goal, today=TODAY, actor=None, draft=draft)

    outcome = goal_start(goal_id=goal.pk, actor=None)

    goal.refresh_from_db()
    assert goal.status == Goal.Status.PLANNED and outcome.decision is None
    assert "no ARPU is known" in outcome.held
    revision = goal.revisions.get()
    assert revision.approved_at is None
    assert [r["kind"] for r in revision.document["risks"]][-1] == "no_actions"
    assert AuditEvent.objects.filter(action="goals.plan_held", subject_id=goal.pk).exists()
    assert not Decision.objects.exists()
