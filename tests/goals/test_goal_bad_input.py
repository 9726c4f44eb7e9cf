"""Bad input at every door a goal comes in by: the admin's New goal form, ``manage.py
goal``, ``POST /api/v1/goals`` and the chat webhook.

No amount, a negative amount, absurd periods (0 days, 100 years), 来期 (which dates?)
and a 10 MB paste each get a message naming what is wrong, and save nothing: the
counts of goals, plan revisions, decisions and audit events are the same after as
before. Where the rules leave a plain gap (no amount) the fake model is asked and
answers null, so the gap stays a question.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from decisions.models import AuditEvent, Decision
from goals.models import Goal, PlanRevision
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.llm_backends import llm_settings_point
from tests.workflows.api_helpers import bearer, post_json

pytestmark = pytest.mark.django_db

TODAY = "2026-11-30"

#: (id, text, what the message must say)
BAD = [
    ("no_amount", "売上を伸ばしたい", "How much?"),
    ("negative", "1週間で-200万作りたい", "is negative"),
    ("zero_days", "0日で200万作りたい", "it has no days"),
    ("hundred_years", "100年で200万作りたい", "longer than a goal can run"),
    ("fiscal", "来期に売上300万", "fiscal period"),
    ("ten_mb", "あ" * (10 * 1024 * 1024), "characters long"),
]
#: Over HTTP, 10 MB never reaches the parser: the body is refused before any view runs.
TOO_LARGE = "bytes, so nothing in it was read or saved"


def _says(says: str) -> str:
    return TOO_LARGE if says == "characters long" else says


def _counts() -> tuple[int, int, int, int]:
    return (
        Goal.objects.count(),
        PlanRevision.objects.count(),
        Decision.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def model(fake_gptoss: FakeGptOss, settings: Any) -> FakeGptOss:
    """The model answers "the text does not say" to any gap it is asked to fill."""
    llm_settings_point(settings, fake_gptoss)
    for _ in range(3):
        fake_gptoss.enqueue(FakeReply(final=json.dumps({"target_amount": None})))
    return fake_gptoss


@pytest.mark.parametrize(("text", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_command_refuses_with_the_reason_and_saves_nothing(model, text, says):
    before = _counts()
    out = io.StringIO()

    with pytest.raises(CommandError) as caught:
        call_command("goal", text, "--today", TODAY, stdout=out)

    assert caught.value.returncode == 2
    assert says in str(caught.value) + out.getvalue()
    assert _counts() == before


@pytest.mark.parametrize(("text", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_api_answers_the_reason_and_saves_nothing(model, alice, text, says):
    client = bearer(alice)
    before = _counts()

    response = post_json(client, "/api/v1/goals", {"text": text, "today": TODAY})

    assert response.status_code in (400, 413, 422)
    # 400/413: {"errors": [...]}; 422: the questions, nothing saved.
    assert _says(says) in json.dumps(response.json(), ensure_ascii=False)
    assert _counts() == before


@pytest.mark.parametrize(("text", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_webhook_replies_the_reason_and_saves_nothing(model, alice, text, says):
    client = bearer(alice)
    before = _counts()

    response = post_json(
        client,
        "/api/v1/goals/webhook",
        {"text": text, "source": "slack", "message_id": "m-bad"},
    )

    answer = response.json()
    assert response.status_code in (200, 413) and answer.get("id") is None
    said = answer.get("reply", "") + json.dumps(answer.get("errors"), ensure_ascii=False)
    assert _says(says) in said
    assert _counts() == before


@pytest.mark.parametrize(("text", "says"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_the_admin_form_shows_the_reason_and_saves_nothing(model, client, alice, text, says):
    client.force_login(alice)
    before = _counts()

    response = client.post(reverse("admin:goals_goal_add"), {"text": text})

    assert response.status_code in (200, 413)
    page = response.content.decode()
    assert _says(says) in page
    assert 'id="goal-confirm"' not in page  # nothing to start
    assert _counts() == before
