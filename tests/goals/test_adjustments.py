"""Volume adjustments: cumulative against the last person-approved plan, decisions beyond
the mandate, their handlers, the re-plan cap, one a day; the anomaly decision's handler."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from decisions.models import AuditEvent, Decision
from decisions.services import decision_apply, decision_approve, decision_reject
from goals.models import PlanRevision
from goals.selectors import plan_current
from goals.services.monitor import ANOMALY_ACTION, MAX_REPLANS, goal_adjust, goal_monitor
from tests.goals.monitor_setup import day, goal_active, readings
from tests.personas import persona_create

pytestmark = pytest.mark.django_db

STEP = Decimal("1.04")


def volume(revision: PlanRevision) -> int:
    return revision.document["actions"][0]["per_day"]


def test_within_ten_percent_is_applied_as_an_approved_fallback_revision():
    goal = goal_active()
    result = goal_adjust(goal_id=goal.pk, today=day(8), factor=STEP)
    assert result.outcome == "applied" and result.change == Decimal("0.04")
    revision = result.revision
    assert (revision.number, revision.reason, revision.author) == (2, "adjustment", "fallback")
    assert revision.approved_at is not None and revision.approved_by is None
    assert revision.decision_id is None
    # Re-derived by plan_decompose: 26 sends at 3 JPY over the 12 days left.
    action = revision.document["actions"][0]
    assert (action["per_day"], action["cost_per_day"], action["cost"]) == (26, "78", "936")
    assert plan_current(goal_id=goal.pk) == revision
    assert AuditEvent.objects.filter(action="goals.plan_adjusted").count() == 1


def test_three_steps_of_four_percent_the_third_asks():
    goal = goal_active()
    first = goal_adjust(goal_id=goal.pk, today=day(8), factor=STEP)
    second = goal_adjust(goal_id=goal.pk, today=day(9), factor=STEP)
    third = goal_adjust(goal_id=goal.pk, today=day(10), factor=STEP)
    assert [r.outcome for r in (first, second, third)] == ["applied", "applied", "asked"]
    assert [r.change for r in (first, second, third)] == [
        Decimal("0.04"),
        Decimal("0.08"),
        Decimal("0.12"),
    ]
    pending = third.revision
    assert pending.approved_at is None and pending.decision_id == third.decision.pk
    decision = third.decision
    assert decision.kind == "strategy_change" and decision.status == Decision.Status.PENDING
    assert decision.action_args["strategic"] is False
    assert "25 → 28 a day" in decision.situation
    # The goal keeps running on the last approved plan meanwhile.
    assert plan_current(goal_id=goal.pk).number == 3


def test_twenty_percent_or_more_is_marked_strategic():
    goal = goal_active()
    result = goal_adjust(goal_id=goal.pk, today=day(8), factor=Decimal("1.25"))
    assert result.outcome == "asked" and result.change == Decimal("0.24")
    assert result.decision.action_args["strategic"] is True
    assert result.decision.urgency == "high"
    assert result.decision.title.startswith(f"Goal #{goal.pk}: strategic change")


def test_approval_stamps_the_revision_and_becomes_the_new_base():
    goal = goal_active()
    alice = persona_create("alice", app="goals")
    asked = goal_adjust(goal_id=goal.pk, today=day(8), factor=Decimal("1.2"))
    decision_approve(decision_id=asked.decision.pk, user=alice)
    assert decision_apply(decision_id=asked.decision.pk).status == Decision.Status.APPLIED
    revision = PlanRevision.objects.get(pk=asked.revision.pk)
    assert revision.approved_by == alice and revision.approved_at is not None
    assert plan_current(goal_id=goal.pk) == revision
    # 30 a day was approved by a person: the next 4% is measured from there.
    after = goal_adjust(goal_id=goal.pk, today=day(9), factor=STEP)
    assert (after.outcome, volume(after.revision), after.change) == (
        "applied",
        31,
        Decimal("0.0333"),
    )


def test_rejection_leaves_the_goal_on_its_plan_and_a_later_day_may_ask_again():
    goal = goal_active()
    alice = persona_create("alice", app="goals")
    asked = goal_adjust(goal_id=goal.pk, today=day(8), factor=Decimal("1.2"))
    # While it waits, no other adjustment is proposed.
    assert goal_adjust(goal_id=goal.pk, today=day(9), factor=STEP).outcome == "pending"
    decision_reject(decision_id=asked.decision.pk, user=alice)
    assert plan_current(goal_id=goal.pk).number == 1
    assert goal_adjust(goal_id=goal.pk, today=day(10), factor=STEP).outcome == "applied"


def test_one_adjustment_a_day():
    goal = goal_active()
    assert goal_adjust(goal_id=goal.pk, today=day(8), factor=STEP).outcome == "applied"
    assert goal_adjust(goal_id=goal.pk, today=day(8), factor=STEP).outcome == "already_today"
    assert PlanRevision.objects.filter(goal=goal).count() == 2


def test_re_plans_are_capped_per_goal():
    goal = goal_active(per_day=50)
    shrink = Decimal("0.98")  # 50 → 49 → 48 → 47 → 46 → 45: the last exactly 10%, still automatic
    outcomes = [
        goal_adjust(goal_id=goal.pk, today=day(n), factor=shrink).outcome
        for n in range(MAX_REPLANS + 1)
    ]
    assert outcomes == ["applied"] * MAX_REPLANS + ["capped"]
    assert PlanRevision.objects.filter(goal=goal).count() == MAX_REPLANS + 1


def test_anomaly_pause_gives_a_plan_that_runs_nothing_approved_by_the_person():
    goal = goal_active(target=2_000_000)
    alice = persona_create("alice", app="goals")
    readings(100_000, 104_000, 98_000, 101_000, 97_000, 103_000, 99_000, 102_000, 9_000, 8_000)
    decision = goal_monitor(goal_id=goal.pk, today=day(10)).anomaly_decision
    assert decision is not None and decision.action == ANOMALY_ACTION
    decision_approve(decision_id=decision.pk, user=alice, option_key="pause")
    applied = decision_apply(decision_id=decision.pk)
    assert applied.status == Decision.Status.APPLIED, applied.outcome
    current = plan_current(goal_id=goal.pk)
    assert current.reason == "replan" and current.author == "person"
    assert current.approved_by == alice and current.document["actions"] == []
    assert current.decision_id == decision.pk


def test_anomaly_replan_re_derives_the_volumes_from_today_for_the_person():
    goal = goal_active(target=2_000_000, per_day=20)
    alice = persona_create("alice", app="goals")
    readings(100_000, 104_000, 98_000, 101_000, 97_000, 103_000, 99_000, 102_000, 9_000, 8_000)
    decision = goal_monitor(goal_id=goal.pk, today=day(10)).anomaly_decision
    before = plan_current(goal_id=goal.pk)
    with time_machine.travel(dt.datetime(2026, 3, 11, 9, 0, tzinfo=dt.UTC), tick=False):
        decision_approve(decision_id=decision.pk, user=alice, option_key="replan")
        assert decision_apply(decision_id=decision.pk).status == Decision.Status.APPLIED
    current = plan_current(goal_id=goal.pk)
    assert current.number > before.number
    assert (current.reason, current.author, current.approved_by) == ("replan", "person", alice)
    # The same volumes, their figures over the 10 days left (Mar 11 to Mar 20).
    assert volume(current) == volume(before) and "monitor" not in current.document
    assert current.document["days_remaining"] == 10
    # Running the handler again (a re-delivered task) makes no second revision.
    from goals.adjustments import anomaly_resolve

    decision.refresh_from_db()
    assert anomaly_resolve(args=decision.action_args, decision=decision)["revision"] == (
        current.number
    )
    assert PlanRevision.objects.filter(goal=goal, reason="replan").count() == 1


def test_an_adjustment_outdated_by_a_newer_approved_plan_cannot_be_approved():
    from decisions.services import DecisionPremiseFailed

    goal = goal_active()
    alice = persona_create("alice", app="goals")
    asked = goal_adjust(goal_id=goal.pk, today=day(8), factor=Decimal("1.2"))
    PlanRevision.objects.create(
        goal=goal, number=3, document={"actions": []}, approved_at=asked.revision.created_at
    )
    with pytest.raises(DecisionPremiseFailed, match="newer plan"):
        decision_approve(decision_id=asked.decision.pk, user=alice)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_monitors_adjusting_at_once_make_one_revision():
    from tests.concurrency import run_together

    goal = goal_active()
    results, errors = run_together(
        lambda _: goal_adjust(goal_id=goal.pk, today=day(8), factor=STEP).outcome, 2
    )
    assert not errors, errors
    assert sorted(results) == ["already_today", "applied"]
    assert PlanRevision.objects.filter(goal=goal).count() == 2
    assert AuditEvent.objects.filter(action="goals.plan_adjusted").count() == 1
