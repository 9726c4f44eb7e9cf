"""``goal_start``, ``plan_approve`` and ``plan_decisions_settle`` (issue 10, governance).

A plan is checked against every policy line; each crossing becomes ONE decision for the
revision (the goal waits), and a plan within every line starts at once. The catalogue
is this file's own (two entries with round figures), so the arithmetic is easy to follow
and does not move when the shipped yields are edited.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from decisions.models import AuditEvent, Budget, Decision, PolicySettings
from decisions.services import decision_apply, decision_approve, decision_reject
from decisions.services.budgets import budget_create
from decisions.services.decisions import DecisionPremiseFailed
from goals.catalogue import catalogue_entry_from_dict
from goals.models import Goal, PlanRevision
from goals.selectors import plan_current
from goals.services.goals import goal_create, goal_plan, goal_understand
from goals.services.plans import PlanStartError, goal_start, plan_approve, plan_decisions_settle
from goals.services.schedules import SCHEDULES
from goals.tasks import plan_decisions_settle_task
from tests.concurrency import run_together
from tests.workflows.factories import WorkflowFactory
from workflows.models import Workflow

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)
WEEK = "1週間で200万作りたい"  # 285,715 JPY a day for 7 days


def _entry(key: str, **values: object):
    data = {
        "key": key,
        "title": key.title(),
        "workflow": f"{key}-wf",
        "metric": "revenue",
        "unit": "email",
        "currency": "JPY",
        "yield_source": "test",
        **values,
    }
    return catalogue_entry_from_dict(data, source=key)


# 100 a day × 1,000 JPY = 100,000 a day, for 100 × 100 = 10,000 JPY a day.
ONBOARD = _entry(
    "onboard", yield_per_unit="1000", unit_cost="100", volume_param="mails_per_day", max_per_day=100
)
# Fills what is left: capped at 200 sends a day (1,400 recipients over 7 days).
OUTREACH = _entry(
    "outreach", yield_per_unit="400", unit_cost="50", volume_param="sends_per_day", max_per_day=200
)


@pytest.fixture
def catalogue(monkeypatch):
    """The catalogue the plans see; by default only ONBOARD, published."""
    entries = [ONBOARD]
    monkeypatch.setattr("goals.services.plans.catalogue_load", lambda: list(entries))
    WorkflowFactory(key="onboard-wf", status=Workflow.Status.PUBLISHED)
    return entries


def _planned(text: str = WEEK) -> Goal:
    understanding = goal_understand(text=text, today=TODAY, default_currency="JPY")
    goal = goal_create(understanding=understanding, actor=None)
    goal_plan(goal=goal, today=TODAY, actor=None)  # the fallback plan: no model call
    return goal


def _goal_budget(goal: Goal) -> Budget | None:
    return Budget.objects.filter(
        scope_type=ContentType.objects.get_for_model(Goal), scope_id=goal.pk
    ).first()


def test_within_policy_the_plan_starts_at_once_on_the_systems_mandate(catalogue):
    goal = _planned()

    outcome = goal_start(goal_id=goal.pk, actor=None)

    goal.refresh_from_db()
    revision = goal.revisions.get()
    assert outcome.decision is None and goal.status == Goal.Status.ACTIVE
    assert revision.approved_at is not None and revision.approved_by is None
    assert revision.decision_id is None and revision.document["decisions"] == []
    assert Decision.objects.count() == 0
    # A goal budget for the executor's spend: the plan's estimate (7 × 10,000).
    budget = _goal_budget(goal)
    assert budget is not None and budget.limit == Decimal("70000") and budget.currency == "JPY"
    assert AuditEvent.objects.filter(action="goals.plan_started", subject_id=str(goal.pk)).exists()


def test_a_plan_over_the_global_budget_asks_one_decision(catalogue):
    budget_create(name="All spend", limit=50_000, period="monthly", currency="JPY")
    goal = _planned()

    outcome = goal_start(goal_id=goal.pk, actor=None)

    goal.refresh_from_db()
    revision = goal.revisions.get()
    decision = Decision.objects.get()
    assert outcome.decision == decision and goal.status == Goal.Status.AWAITING_APPROVAL
    assert decision.kind == "budget_overrun" and decision.action == "goals.plan_approve"
    assert decision.action_args == {"revision_id": revision.pk}
    assert decision.subject_id == str(goal.pk)
    assert "70000" in decision.impact and decision.recommendation == "approve"
    options = sorted(decision.options.values_list("key", flat=True))
    assert options == ["approve", "capped", "reject"]
    assert revision.decision_id == decision.pk and revision.approved_at is None
    assert [d["rule"] for d in revision.document["decisions"]] == ["budget_overrun"]
    assert _goal_budget(goal) is None  # only an active goal gets its budget


def test_the_goals_own_budget_is_checked_before_the_global_one(catalogue):
    budget_create(name="All spend", limit=10, period="monthly", currency="JPY")
    goal = _planned()
    budget_create(name="This goal", limit=75_000, period="monthly", currency="JPY", scope=goal)

    outcome = goal_start(goal_id=goal.pk, actor=None)

    assert outcome.decision is None and outcome.goal.status == Goal.Status.ACTIVE


def test_an_unpublished_workflow_asks_a_new_workflow_decision(catalogue):
    Workflow.objects.update(status=Workflow.Status.DRAFT)
    goal = _planned()

    outcome = goal_start(goal_id=goal.pk, actor=None)

    assert outcome.decision is not None and outcome.decision.kind == "new_workflow"
    assert "capped" not in outcome.decision.options.values_list("key", flat=True)
    assert [d["rule"] for d in outcome.revision.document["decisions"]] == ["new_workflow"]


def test_a_mass_send_asks_a_decision(catalogue):
    catalogue.append(OUTREACH)
    WorkflowFactory(key="outreach-wf", status=Workflow.Status.PUBLISHED)
    goal = _planned()

    outcome = goal_start(goal_id=goal.pk, actor=None)

    assert outcome.decision is not None and outcome.decision.kind == "mass_send"
    (asked,) = outcome.revision.document["decisions"]
    assert asked["rule"] == "mass_send" and "1400 recipients" in asked["reason"]


def test_a_send_under_the_mass_send_line_starts(catalogue):
    catalogue.append(OUTREACH)
    WorkflowFactory(key="outreach-wf", status=Workflow.Status.PUBLISHED)
    PolicySettings.objects.update(mass_send_recipients=1401)
    goal = _planned()

    assert goal_start(goal_id=goal.pk, actor=None).decision is None


def test_automatic_execution_off_asks_for_every_plan(catalogue, settings):
    settings.AUTO_EXECUTION_ENABLED = False
    goal = _planned()

    outcome = goal_start(goal_id=goal.pk, actor=None)

    assert outcome.decision is not None
    assert outcome.goal.status == Goal.Status.AWAITING_APPROVAL
    assert "auto_execution_disabled" in [d["rule"] for d in outcome.revision.document["decisions"]]


def test_several_lines_crossed_are_still_one_decision(catalogue, settings):
    settings.AUTO_EXECUTION_ENABLED = False
    Workflow.objects.update(status=Workflow.Status.DRAFT)
    budget_create(name="All spend", limit=10, period="monthly", currency="JPY")
    goal = _planned()

    goal_start(goal_id=goal.pk, actor=None)

    assert Decision.objects.count() == 1
    assert len(goal.revisions.get().document["decisions"]) == 3


def test_only_a_planned_goal_starts(catalogue):
    goal = _planned()
    goal_start(goal_id=goal.pk, actor=None)

    with pytest.raises(PlanStartError, match="active"):
        goal_start(goal_id=goal.pk, actor=None)


def _waiting(settings) -> tuple[Goal, Decision]:
    settings.AUTO_EXECUTION_ENABLED = False
    goal = _planned()
    decision = goal_start(goal_id=goal.pk, actor=None).decision
    assert decision is not None
    settings.AUTO_EXECUTION_ENABLED = True
    return goal, decision


def test_approval_stamps_the_approver_and_activates_the_goal(catalogue, settings, alice):
    goal, decision = _waiting(settings)

    decision_approve(decision_id=decision.pk, user=alice, option_key="approve")
    decision_apply(decision_id=decision.pk)

    goal.refresh_from_db()
    revision = goal.revisions.get()
    assert goal.status == Goal.Status.ACTIVE
    assert revision.approved_by == alice and revision.approved_at is not None
    assert Decision.objects.get().status == Decision.Status.APPLIED
    assert _goal_budget(goal) is not None
    assert AuditEvent.objects.filter(action="goals.plan_approved", actor=alice).count() == 1


def test_rejection_sends_the_goal_back_to_planned(catalogue, settings, alice):
    goal, decision = _waiting(settings)
    decision_reject(decision_id=decision.pk, user=alice, comment="not this month")

    assert plan_decisions_settle() == 1

    goal.refresh_from_db()
    assert goal.status == Goal.Status.PLANNED
    assert goal.revisions.get().approved_at is None
    refused = AuditEvent.objects.get(action="goals.plan_refused")
    assert refused.actor == alice and refused.data["decision_status"] == "rejected"
    assert plan_decisions_settle() == 0  # nothing left to settle


def test_a_pending_decision_is_left_alone_by_the_sweep(catalogue, settings):
    goal, _decision = _waiting(settings)

    assert plan_decisions_settle() == 0
    goal.refresh_from_db()
    assert goal.status == Goal.Status.AWAITING_APPROVAL


def test_an_expired_decision_sends_the_goal_back_to_planned(catalogue, settings):
    goal, decision = _waiting(settings)
    Decision.objects.filter(pk=decision.pk).update(
        status=Decision.Status.EXPIRED, decided_at=timezone.now()
    )

    assert plan_decisions_settle() == 1
    goal.refresh_from_db()
    assert goal.status == Goal.Status.PLANNED


def test_approving_again_changes_nothing(catalogue, settings, alice):
    goal, decision = _waiting(settings)
    decision_approve(decision_id=decision.pk, user=alice, option_key="approve")
    decision.refresh_from_db()

    plan_approve(revision_id=goal.revisions.get().pk, decision=decision)
    plan_approve(revision_id=goal.revisions.get().pk, decision=decision)

    assert AuditEvent.objects.filter(action="goals.plan_approved").count() == 1


def test_a_decision_for_another_revision_does_not_approve_this_one(catalogue, settings, alice):
    goal, decision = _waiting(settings)
    other = PlanRevision.objects.create(goal=goal, number=2, document={})

    with pytest.raises(PlanStartError, match="waits on decision"):
        plan_approve(revision_id=other.pk, decision=decision)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_approvals_at_once_make_one_transition(catalogue, settings, alice):
    goal, decision = _waiting(settings)
    decision_approve(decision_id=decision.pk, user=alice, option_key="approve")
    decision.refresh_from_db()
    revision_id = goal.revisions.get().pk

    def approve(_index: int) -> int:
        return plan_approve(revision_id=revision_id, decision=decision).pk

    results, errors = run_together(approve, 2)

    assert not errors, errors
    assert results == [revision_id, revision_id]
    goal.refresh_from_db()
    assert goal.status == Goal.Status.ACTIVE
    assert AuditEvent.objects.filter(action="goals.plan_approved").count() == 1
    assert Budget.objects.filter(scope_id=goal.pk).count() == 1


def test_the_scheduled_task_settles_and_says_how_many(catalogue, settings, alice):
    _goal, decision = _waiting(settings)
    decision_reject(decision_id=decision.pk, user=alice)

    assert SCHEDULES["goals.plan_decisions_settle"][0] == "goals.tasks.plan_decisions_settle_task"
    assert plan_decisions_settle_task() == "1 goal(s) back to planned"


def test_a_plan_whose_goal_was_cancelled_meanwhile_cannot_be_approved(catalogue, settings, alice):
    goal, decision = _waiting(settings)
    Goal.objects.filter(pk=goal.pk).update(status=Goal.Status.CANCELLED)

    with pytest.raises(DecisionPremiseFailed, match="the goal is cancelled"):
        decision_approve(decision_id=decision.pk, user=alice, option_key="approve")
    assert goal.revisions.get().approved_at is None


def test_over_budget_can_start_at_the_volume_the_budget_allows(catalogue, alice):
    budget_create(name="All spend", limit=35_000, period="monthly", currency="JPY")
    goal = _planned()
    decision = goal_start(goal_id=goal.pk, actor=None).decision
    assert decision is not None
    assert "capped" in decision.options.values_list("key", flat=True)

    decision_approve(decision_id=decision.pk, user=alice, option_key="capped")
    decision_apply(decision_id=decision.pk)

    goal.refresh_from_db()
    asked, capped = goal.revisions.order_by("number")
    assert goal.status == Goal.Status.ACTIVE
    assert asked.approved_at is None  # the plan as asked never ran
    assert capped.reason == PlanRevision.Reason.ADJUSTMENT and capped.approved_by == alice
    assert capped.author == PlanRevision.Author.PERSON and capped.decision_id == decision.pk
    # Half the budget: 100 a day becomes 50, 7 × 50 × 100 = 35,000 JPY.
    (action,) = capped.document["actions"]
    assert action["per_day"] == 50 and action["params"] == {"mails_per_day": 50}
    assert capped.document["budget_estimate"] == "35000"
    assert plan_current(goal_id=goal.pk) == capped
    assert _goal_budget(goal).limit == Decimal("35000")
    plan_approve(revision_id=asked.pk, decision=Decision.objects.get())  # again: no change
    assert goal.revisions.count() == 2
