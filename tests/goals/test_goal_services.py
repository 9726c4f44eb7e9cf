"""goal_understand, goal_create and goal_plan (issue 10): the model only for plain gaps.

The model is the fake gpt-oss server on loopback (vLLM protocol), reached through the
product's own client; what it received is asserted, so "no call" is a fact, not a hope.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core import checks

from decisions.models import AuditEvent
from goals.models import Goal, PlanRevision
from goals.parsing import GoalParseError
from goals.services.goals import (
    GoalServiceError,
    goal_create,
    goal_plan,
    goal_understand,
)
from goals.vocabulary import FieldSource
from tests.fake_gptoss import FakeReply
from tests.llm_backends import llm_settings_point

TODAY = dt.date(2026, 11, 30)


@pytest.fixture
def fake(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


def _understand(text: str):
    return goal_understand(text=text, today=TODAY, default_currency="JPY")


def test_it_makes_no_model_call_without_gaps(fake):
    understanding = _understand("1週間で200万作りたい")

    assert fake.requests == []
    assert understanding.model_called is False
    assert understanding.ready
    assert understanding.parsed.target_amount == 2_000_000
    assert understanding.confirm == ["currency"]  # the default currency is echoed back


def test_it_asks_the_model_for_a_missing_amount_and_marks_it(fake):
    fake.enqueue(FakeReply(final=json.dumps({"target_amount": "1500000"})))

    understanding = _understand("売上を増やしたい、来月までに")

    assert len(fake.requests) == 1
    assert "goal_gaps" in fake.requests[0].prompt_text
    assert understanding.ready
    assert understanding.parsed.target_amount == 1_500_000
    assert understanding.parsed.fields_from["target_amount"] == FieldSource.MODEL
    assert "target_amount" in understanding.confirm
    assert understanding.to_json()["target_amount"] == "1500000"


def test_it_repairs_a_broken_answer_once(fake):
    fake.enqueue(
        FakeReply(final="I think about a million"),
        FakeReply(final=json.dumps({"target_amount": "1000000"})),
    )

    understanding = _understand("売上を増やしたい、来月までに")

    assert len(fake.requests) == 2
    assert understanding.parsed.target_amount == 1_000_000


def test_a_broken_model_answer_becomes_a_question(fake):
    fake.enqueue(FakeReply(final="no idea"), FakeReply(final="still no idea"))

    understanding = _understand("売上を増やしたい、来月までに")

    assert len(fake.requests) == 2  # the answer and its one repair, no more
    assert not understanding.ready
    codes = {q.code for q in understanding.questions}
    assert "no_amount" in codes and "model_failed" in codes
    assert understanding.parsed.target_amount is None


def test_an_unreachable_model_leaves_the_gap_a_question(settings, fake):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port

    understanding = _understand("売上を増やしたい、来月までに")

    assert not understanding.ready
    assert "no_amount" in {q.code for q in understanding.questions}


def test_a_null_from_the_model_stays_a_question(fake):
    fake.enqueue(FakeReply(final=json.dumps({"target_amount": None})))

    understanding = _understand("売上を増やしたい、来月までに")

    assert [q.code for q in understanding.questions] == ["no_amount"]


def test_an_out_of_bounds_model_date_is_not_taken(fake):
    fake.enqueue(FakeReply(final=json.dumps({"period_end": "2020-01-01"})))

    understanding = _understand("売上を200万にしたい")

    assert "no_period" in {q.code for q in understanding.questions}
    assert understanding.parsed.period is None


def test_ambiguous_questions_are_not_sent_to_the_model(fake):
    understanding = _understand("来期に売上300万")

    assert fake.requests == []
    assert [q.code for q in understanding.questions] == ["ambiguous_fiscal_period"]


@pytest.mark.parametrize("text", ["", "a" * 10_000_000, "売上を-200万円にしたい、1週間で"])
def test_it_refuses_what_cannot_be_a_goal(text):
    with pytest.raises(GoalParseError):
        _understand(text)


@pytest.mark.django_db
def test_it_creates_a_draft_with_fields_from_and_an_audit_row(bob):
    goal = goal_create(understanding=_understand("1週間で200万作りたい"), actor=bob)

    goal.refresh_from_db()
    assert goal.status == Goal.Status.DRAFT
    assert goal.target_amount == 2_000_000 and goal.currency == "JPY"
    assert goal.fields_from["currency"] == "default"
    assert goal.requested_by == bob
    assert AuditEvent.objects.filter(action="goals.goal_created", subject_id=str(goal.pk)).exists()


@pytest.mark.django_db
def test_it_refuses_to_create_a_goal_with_questions():
    with pytest.raises(GoalServiceError, match="ambiguous_fiscal_period"):
        goal_create(understanding=_understand("来期に売上300万"), actor=None)
    assert Goal.objects.count() == 0


@pytest.mark.django_db
def test_it_plans_a_draft_as_revision_one_by_the_rules():
    goal = goal_create(understanding=_understand("1週間で200万作りたい"), actor=None)

    revision = goal_plan(goal=goal, today=TODAY, actor=None)

    goal.refresh_from_db()
    assert goal.status == Goal.Status.PLANNED
    # Without a draft made before the lock, no model is asked: the fallback plan.
    assert revision.number == 1 and revision.rationale.startswith("Deterministic fallback")
    assert revision.author == PlanRevision.Author.FALLBACK
    assert revision.document["daily_target"] == "285715"
    assert len(revision.document["assumptions"]) == 2  # achieved 0 and ARPU unknown
    assert AuditEvent.objects.filter(action="goals.goal_planned", subject_id=str(goal.pk)).exists()


@pytest.mark.django_db
def test_it_refuses_to_plan_a_goal_that_is_not_a_draft():
    goal = goal_create(understanding=_understand("1週間で200万作りたい"), actor=None)
    goal_plan(goal=goal, today=TODAY, actor=None)
    stale = Goal.objects.get(pk=goal.pk)
    Goal.objects.filter(pk=goal.pk).update(status=Goal.Status.CANCELLED)

    with pytest.raises(GoalServiceError, match="cancelled"):
        goal_plan(goal=stale, today=TODAY, actor=None)
    assert PlanRevision.objects.filter(goal=goal).count() == 1


def test_a_bad_default_currency_fails_the_system_check_by_name(settings):
    settings.DEFAULT_CURRENCY = "XYZ"

    errors = [e for e in checks.run_checks() if e.id == "goals.E002"]

    assert len(errors) == 1 and "BIZAGENT_DEFAULT_CURRENCY" in errors[0].msg


def test_the_default_currency_passes_the_system_check(settings):
    assert settings.DEFAULT_CURRENCY == "JPY"
    assert not [e for e in checks.run_checks() if e.id == "goals.E002"]
