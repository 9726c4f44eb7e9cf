"""The decisions goals asks for, in business terms (``goals.presenters``).

Each decision is requested through the real service that asks for it today; the
presentation must say what approving changes in effort, money or time, carry the
evidence as (label, value) rows, and never show the model's analysis or a raw dict.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from decisions.models import Decision
from decisions.presentation import decision_present, presentation_text
from decisions.services.budgets import budget_create
from goals.models import Goal
from goals.services import iteration_run, task_create
from goals.services.monitor import goal_adjust, goal_monitor
from goals.services.plans import goal_start
from tests.goals.monitor_setup import day, goal_active, readings
from tests.goals.studio import Studio, StudioClient
from tests.goals.test_plan_governance import _planned, catalogue  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db


def _no_engineer_words(shown) -> None:
    everything = " ".join([shown.summary, *(f"{k} {v}" for k, v in shown.evidence)])
    assert "{" not in everything and "explore ratio" not in everything, everything


def test_strategy_change_reads_as_effort_between_new_directions_and_the_best_ideas(theme):
    task_create(theme=theme, kind="meta_review", priority=99)
    report = iteration_run(
        worker="w", scheduled=False, client=StudioClient(Studio(meta_ratio=0.31))
    )
    decision = Decision.objects.get(pk=report.iteration.result["strategy"]["decision"])

    shown = decision_present(decision=decision)

    assert shown.summary == (
        "Put more effort into improving the best ideas: new directions 60% → 31% of the work"
    )
    evidence = dict(shown.evidence)
    assert evidence["Project"] == theme.name
    assert evidence["Work on new directions after"] == "31%"
    assert evidence["Work on improving the best ideas after"] == "69%"
    assert evidence["Focus"] == "Seasonal drops for tired workers."
    _no_engineer_words(shown)
    # The model's analysis is kept for audit, never shown.
    assert decision.model_analysis == "Repetition is rising; change the balance."
    assert "Repetition is rising" not in presentation_text(decision)
    assert dict(shown.technical)["explore_ratio"] == "0.31"


def test_token_budget_reads_as_letting_the_studio_keep_working_today(theme):
    config = dict(theme.config)
    config["iteration_policy"] = {**config["iteration_policy"], "daily_token_budget": 1}
    theme.config = config
    theme.save()
    client = StudioClient()
    iteration_run(worker="w", scheduled=False, client=client)
    assert iteration_run(worker="w", scheduled=False, client=client).status == "budget"
    decision = Decision.objects.get(action="goals.extend_token_budget")

    shown = decision_present(decision=decision)

    tokens = decision.action_args["tokens"]
    assert shown.summary.startswith(f"Let the idea studio of {theme.name} keep working today: ")
    assert f"{tokens:,} more tokens" in shown.summary
    assert dict(shown.evidence)["Daily budget (tokens)"] == "1"
    _no_engineer_words(shown)


def test_plan_approval_reads_as_money_and_the_end_date(catalogue):  # noqa: F811
    budget_create(name="All spend", limit=50_000, period="monthly", currency="JPY")
    goal = _planned()
    decision = goal_start(goal_id=goal.pk, actor=None).decision

    shown = decision_present(decision=decision)

    assert shown.summary == (
        f"Start working on the goal “{goal.text}”: 1 workflows run until "
        f"{goal.period_end.isoformat()}, spending up to ¥70,000"
    )
    evidence = dict(shown.evidence)
    assert evidence["Target"] == "¥2,000,000"
    assert evidence["Budget estimate"] == "¥70,000"
    assert evidence["Workflows"] == "onboard"
    _no_engineer_words(shown)


def test_goal_adjustment_reads_as_actions_a_day_before_and_after():
    goal = goal_active()
    result = goal_adjust(goal_id=goal.pk, today=day(8), factor=Decimal("1.25"))
    assert result.outcome == "asked"

    shown = decision_present(decision=result.decision)

    name = goal.text
    assert shown.summary.startswith(f"Change strategy to catch up on the goal “{name}”: 25 → ")
    assert shown.summary.endswith(" actions a day")
    per_day = [value for label, value in shown.evidence if label.endswith("per day")]
    assert per_day and per_day[0].startswith("25 → ")
    _no_engineer_words(shown)


def test_anomaly_reads_as_money_per_day_against_a_usual_day():
    goal = goal_active(target=2_000_000)
    readings(100_000, 104_000, 98_000, 101_000, 97_000, 103_000, 99_000, 102_000, 9_000, 8_000)
    decision = goal_monitor(goal_id=goal.pk, today=day(10)).anomaly_decision
    assert decision is not None

    shown = decision_present(decision=decision)

    assert "dropped for 2 days in a row (a usual day: ¥100,500)" in shown.summary
    assert shown.summary.startswith(f"Revenue of the goal “{goal.text}”")
    evidence = dict(shown.evidence)
    assert evidence["Usual day"] == "¥100,500"
    assert list(evidence.values())[-2:] == ["¥9,000", "¥8,000"]
    assert all(dt.date.fromisoformat(label) for label, _ in shown.evidence[1:])
    assert goal.status == Goal.Status.ACTIVE
