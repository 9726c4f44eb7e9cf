"""Meta reviews that change strategy, and the daily token budget, through governance."""

from __future__ import annotations

import pytest

from goals.actions import apply_strategy_change, extend_token_budget
from goals.models import Iteration, LoopState, TokenGrant
from goals.services import iteration_run, meta_review_stats, task_create
from goals.services.loop import loop_state_get
from tests.goals.factories import IdeaFactory
from tests.goals.studio import Studio, StudioClient

pytestmark = pytest.mark.django_db


def _policy(theme, **policy):
    config = dict(theme.config)
    config["iteration_policy"] = {**config["iteration_policy"], **policy}
    theme.config = config
    theme.save()


def _meta_review(theme, client):
    task_create(theme=theme, kind="meta_review", priority=99)
    report = iteration_run(worker="w", scheduled=False, client=client)
    assert report.iteration.task_kind == "meta_review"
    return report.iteration


def test_meta_review_stats_are_computed_in_python(theme):
    IdeaFactory(theme=theme, brand_fit=4.0)
    IdeaFactory(theme=theme, brand_fit=8.0, human_novelty=9.0)
    stats = meta_review_stats(theme=theme)
    assert stats["ideas"] == 2
    assert stats["scores"]["brand_fit"] == {"n": 2, "mean": 6.0, "variance": 4.0}
    assert stats["human_corrected"] == 1
    assert 0 <= stats["diversity"] <= 1
    assert "drift" in stats["brand"]


def test_the_meta_review_prompt_carries_the_statistics(theme):
    client = StudioClient()
    _meta_review(theme, client)
    assert "META REVIEW" in client.requests[-1].user
    assert '"scores"' in client.requests[-1].user


def test_a_small_strategy_change_is_applied(theme):
    client = StudioClient(Studio(meta_ratio=0.65))  # 0.60 → 0.65: 8%
    it = _meta_review(theme, client)
    assert it.result["strategy"]["applied"] is True
    state = loop_state_get()
    assert state.strategy_for(theme) == (0.65, "Seasonal drops for tired workers.")


def test_a_change_of_20_percent_becomes_a_decision(theme):
    client = StudioClient(Studio(meta_ratio=0.3))  # 0.60 → 0.30: 50%
    it = _meta_review(theme, client)
    strategy = it.result["strategy"]
    assert strategy["applied"] is False
    assert strategy["decision"]
    assert loop_state_get().strategy_for(theme) == (None, "")


def test_an_approved_strategy_change_is_applied_by_its_handler(theme):
    class Decision:
        pk = 41

    apply_strategy_change(
        args={"theme_id": theme.pk, "explore_ratio": 0.3, "focus": "deepen the best"},
        decision=Decision(),
    )
    assert loop_state_get().strategy_for(theme) == (0.3, "deepen the best")


def test_past_the_daily_budget_the_loop_asks_instead_of_spending(theme):
    _policy(theme, daily_token_budget=1)
    client = StudioClient()
    assert iteration_run(worker="w", scheduled=False, client=client).ran
    calls = len(client.requests)
    report = iteration_run(worker="w", scheduled=False, client=client)
    assert report.status == "budget"
    assert "waiting for decision" in report.detail
    assert len(client.requests) == calls
    again = iteration_run(worker="w", scheduled=False, client=client)
    assert again.detail == report.detail  # the same decision, not a second one


def test_an_approved_budget_extension_lets_the_loop_continue(theme):
    _policy(theme, daily_token_budget=1)
    client = StudioClient()
    iteration_run(worker="w", scheduled=False, client=client)
    assert iteration_run(worker="w", scheduled=False, client=client).status == "budget"

    class Decision:
        pk = 42

    extend_token_budget(
        args={
            "theme_id": theme.pk,
            "day": loop_state_get().updated_at.date().isoformat(),
            "tokens": 10**6,
        },
        decision=Decision(),
    )
    extend_token_budget(
        args={
            "theme_id": theme.pk,
            "day": loop_state_get().updated_at.date().isoformat(),
            "tokens": 10**6,
        },
        decision=Decision(),
    )
    assert TokenGrant.objects.count() == 1
    assert iteration_run(worker="w", scheduled=False, client=client).ran
    assert Iteration.objects.count() == 2
    assert LoopState.objects.get().state == "stopped"


def test_a_newer_strategy_proposal_supersedes_the_pending_one(theme):
    from decisions.models import Decision

    first = _meta_review(theme, StudioClient(Studio(meta_ratio=0.3)))
    second = _meta_review(theme, StudioClient(Studio(meta_ratio=0.9)))

    older = Decision.objects.get(pk=first.result["strategy"]["decision"])
    newer = Decision.objects.get(pk=second.result["strategy"]["decision"])
    assert older.status == Decision.Status.SUPERSEDED and older.superseded_by == newer
    assert newer.status == Decision.Status.PENDING
    assert newer.action_args["from_explore_ratio"] == 0.6
    assert Decision.objects.filter(status="pending", action=newer.action).count() == 1


def test_a_strategy_decision_whose_starting_point_moved_cannot_be_approved(theme, alice):
    from decisions.models import Decision
    from decisions.services import DecisionPremiseFailed, decision_approve

    it = _meta_review(theme, StudioClient(Studio(meta_ratio=0.3)))  # asks: 0.60 → 0.30
    decision = Decision.objects.get(pk=it.result["strategy"]["decision"])
    _meta_review(theme, StudioClient(Studio(meta_ratio=0.65)))  # small: applied at once
    assert loop_state_get().strategy_for(theme)[0] == 0.65

    with pytest.raises(
        DecisionPremiseFailed,
        match=(
            f"the studio's explore ratio for {theme.name} is now 0.65, "
            "not 0.60 as this decision assumed"
        ),
    ):
        decision_approve(decision_id=decision.pk, user=alice)

    decision.refresh_from_db()
    assert decision.status == Decision.Status.PENDING
    assert loop_state_get().strategy_for(theme)[0] == 0.65


def test_an_approved_strategy_change_runs_while_its_premise_holds(theme, alice):
    from decisions.models import Decision
    from decisions.services import decision_apply, decision_approve

    it = _meta_review(theme, StudioClient(Studio(meta_ratio=0.3)))
    decision = Decision.objects.get(pk=it.result["strategy"]["decision"])
    decision_approve(decision_id=decision.pk, user=alice)

    assert decision_apply(decision_id=decision.pk).status == Decision.Status.APPLIED
    assert loop_state_get().strategy_for(theme)[0] == 0.3
