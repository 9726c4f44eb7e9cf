"""The model chooses the plan's catalogue workflows (issue 10): one structured call,
validated, repaired once, then the deterministic fallback. Never the numbers.

The model is the fake gpt-oss server on loopback (vLLM protocol) reached through the
product's own client, so what it was sent and how often is asserted.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest

from goals.models import MetricSnapshot, PlanRevision
from goals.services.goals import goal_create, goal_plan, goal_understand, understanding_draft
from tests.fake_gptoss import FakeReply
from tests.llm_backends import llm_settings_point

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)
WEEK = "1週間で200万作りたい"
FALLBACK_ORDER = ["trial_onboarding", "cold_outreach"]  # revenue drivers, cheapest first


@pytest.fixture
def fake(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)
    # An ARPU, so the customer-driving workflows count toward a revenue goal.
    for day, value in ((TODAY - dt.timedelta(days=1), 500_000),):
        MetricSnapshot.objects.create(
            source="whop", metric="revenue", date=day, value=value, currency="JPY"
        )
    MetricSnapshot.objects.create(source="whop", metric="customers", date=TODAY, value=50)
    return fake_gptoss


def _draft():
    understanding = goal_understand(text=WEEK, today=TODAY, default_currency="JPY")
    return understanding_draft(understanding=understanding, today=TODAY)


def _choice(keys: list[str], rationale: str = "Onboarding converts trials we already have.") -> str:
    return json.dumps({"workflows": keys, "rationale": rationale})


def test_a_valid_choice_is_the_plan_and_its_rationale(fake):
    fake.enqueue(FakeReply(final=_choice(["trial_onboarding"])))

    draft = _draft()

    assert draft.author == PlanRevision.Author.MODEL
    assert draft.rationale == "Onboarding converts trials we already have."
    assert draft.document["workflows"] == ["trial_onboarding"]
    assert [a["catalogue"] for a in draft.document["actions"]] == ["trial_onboarding"]
    assert len(fake.requests) == 1
    prompt = fake.requests[0].prompt_text
    # The model is given the goal, the figures and the catalogue entries.
    assert WEEK in prompt and "ARPU 10000" in prompt
    assert "cold_outreach" in prompt and "max_per_day" in prompt


def test_the_numbers_are_the_arithmetics_not_the_models(fake):
    fake.enqueue(
        FakeReply(final=_choice(["trial_onboarding"], "Run 9999 a day for 1 yen of profit."))
    )

    draft = _draft()

    action = draft.document["actions"][0]
    # 285,715 a day / (0.15 customers × 10,000 ARPU) = 190.5 → 191, by plan_decompose.
    assert action["per_day"] == 191
    assert "9999" not in json.dumps(draft.document["actions"])


def test_an_unknown_key_is_repaired_once(fake):
    fake.enqueue(
        FakeReply(final=_choice(["viral_tiktok"])),
        FakeReply(final=_choice(["cold_outreach", "trial_onboarding"])),
    )

    draft = _draft()

    assert draft.author == PlanRevision.Author.MODEL
    assert draft.document["workflows"] == ["cold_outreach", "trial_onboarding"]
    assert len(fake.requests) == 2
    # The repair quotes the validator: the key that is not in the catalogue.
    assert "viral_tiktok" in fake.requests[1].prompt_text


def test_invalid_twice_gives_the_fallback_plan_saying_why(fake):
    fake.enqueue(FakeReply(final=_choice(["viral_tiktok"])), FakeReply(final="no thanks"))

    draft = _draft()

    assert draft.author == PlanRevision.Author.FALLBACK
    assert draft.document["workflows"] == FALLBACK_ORDER
    assert "fallback" in draft.rationale and "the model failed" in draft.rationale
    assert len(fake.requests) == 2


def test_a_refusal_an_empty_choice_gives_the_fallback(fake):
    fake.enqueue(FakeReply(final=_choice([])), FakeReply(final=_choice([])))

    draft = _draft()

    assert draft.author == PlanRevision.Author.FALLBACK
    assert draft.document["workflows"] == FALLBACK_ORDER


def test_an_unreachable_model_gives_the_fallback(fake, settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens on the discard port

    draft = _draft()

    assert draft.author == PlanRevision.Author.FALLBACK
    assert "unreachable" in draft.rationale
    assert draft.document["workflows"] == FALLBACK_ORDER
    assert fake.requests == []


def test_the_saved_revision_records_who_chose_and_why(fake):
    fake.enqueue(FakeReply(final=_choice(["cold_outreach"], "Cold outreach finds new buyers.")))
    understanding = goal_understand(text=WEEK, today=TODAY, default_currency="JPY")
    draft = understanding_draft(understanding=understanding, today=TODAY)
    goal = goal_create(understanding=understanding, actor=None)

    revision = goal_plan(goal=goal, today=TODAY, actor=None, draft=draft)

    assert revision.author == PlanRevision.Author.MODEL
    assert revision.rationale == "Cold outreach finds new buyers."
    assert revision.document["author"] == "model"
