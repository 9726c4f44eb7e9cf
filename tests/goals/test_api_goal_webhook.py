"""``POST /api/v1/goals/webhook``: goals from chat tools, once per (source, message_id).

alice is a superuser (her token may add goals); charlie is staff with no permission on
goals.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from goals.models import Goal, GoalOrigin, PlanRevision
from goals.services import intake
from tests.fake_gptoss import FakeReply
from tests.llm_backends import llm_settings_point
from tests.workflows.api_helpers import bearer, post_json

pytestmark = pytest.mark.django_db

URL = "/api/v1/goals/webhook"


def _message(text: str = "1週間で200万作りたい", *, source: str = "slack", mid: str = "m-1"):
    return {"text": text, "source": source, "message_id": mid}


def test_it_saves_the_goal_and_answers_a_chat_reply_with_the_document(alice):
    response = post_json(bearer(alice), URL, _message())

    assert response.status_code == 201
    answer = response.json()
    goal = Goal.objects.get()
    # No ARPU is known on a fresh install: saved, but its plan has nothing to run.
    assert answer["id"] == goal.pk and answer["status"] == "planned"
    assert "Not started, still planned" in answer["reply"] and "ARPU" in answer["reply"]
    assert answer["replayed"] is False
    assert answer["goal"]["target_amount"] == "2000000" and answer["plan"]["daily_target"]
    assert "2000000" in answer["reply"] and f"#{goal.pk}" in answer["reply"]
    assert "currency" in answer["reply"]  # a default is echoed back for confirmation
    assert goal.requested_by == alice
    origin = GoalOrigin.objects.get()
    assert (origin.source, origin.message_id, origin.goal) == ("slack", "m-1", goal)


def test_a_replayed_delivery_returns_the_first_answer_and_creates_nothing(alice):
    client = bearer(alice)
    first = post_json(client, URL, _message()).json()

    again = post_json(client, URL, _message())

    assert again.status_code == 201
    assert again.json() == {**first, "replayed": True}
    assert Goal.objects.count() == 1 and PlanRevision.objects.count() == 1
    assert GoalOrigin.objects.count() == 1


def test_the_same_message_id_from_another_tool_is_another_message(alice):
    client = bearer(alice)
    post_json(client, URL, _message(source="slack"))

    response = post_json(client, URL, _message(source="telegram"))

    assert response.status_code == 201 and response.json()["replayed"] is False
    assert Goal.objects.count() == 2


def test_questions_are_the_reply_nothing_is_saved_and_a_replay_asks_no_model(
    alice, fake_gptoss, settings
):
    llm_settings_point(settings, fake_gptoss)
    fake_gptoss.enqueue(FakeReply(final=json.dumps({"target_amount": None})))
    client = bearer(alice)

    response = post_json(client, URL, _message("売上を増やしたい、来月までに"))
    again = post_json(client, URL, _message("売上を増やしたい、来月までに"))

    assert response.status_code == 200
    answer = response.json()
    assert answer["id"] is None and answer["plan"] is None
    assert "no_amount" in {q["code"] for q in answer["questions"]}
    assert answer["questions"][0]["text"] in answer["reply"]
    assert Goal.objects.count() == 0
    assert again.json() == {**answer, "replayed": True}
    assert len(fake_gptoss.requests) == 1  # the replay asked nothing


def test_text_that_cannot_be_a_goal_gets_a_reply_naming_the_problem(alice):
    response = post_json(bearer(alice), URL, _message("売上をマイナス200万にしたい、1週間で"))

    assert response.status_code == 200
    answer = response.json()
    [error] = answer["errors"]
    assert error["path"] == "text" and error["message"] in answer["reply"]
    assert Goal.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"text": "1週間で200万", "message_id": "m-1"}, "source"),
        ({"text": "1週間で200万", "source": "Slack Bot!", "message_id": "m-1"}, "source"),
        ({"text": "1週間で200万", "source": "slack", "message_id": ""}, "message_id"),
        ({"source": "slack", "message_id": "m-1"}, "text"),
    ],
)
def test_a_malformed_delivery_answers_400_naming_the_field(alice, body, path):
    response = post_json(bearer(alice), URL, body)

    assert response.status_code == 400
    assert path in {error["path"] for error in response.json()["errors"]}
    assert GoalOrigin.objects.count() == 0


def test_it_needs_a_bearer_token_not_a_session(alice):
    session = Client()
    session.force_login(alice)

    assert post_json(Client(), URL, _message()).status_code == 401
    assert post_json(session, URL, _message()).status_code == 401
    assert Goal.objects.count() == 0


def test_it_needs_the_add_goal_permission(charlie):
    response = post_json(bearer(charlie), URL, _message())

    assert response.status_code == 403
    assert "goals.add_goal" in response.json()["detail"]
    assert GoalOrigin.objects.count() == 0


def test_a_delivery_that_loses_the_race_answers_the_winners_reply(alice, monkeypatch):
    understand = intake.goal_understand

    def twin_commits_first(**kwargs):
        # The twin delivery of the same message commits while this one is understanding.
        GoalOrigin.objects.create(
            source="slack", message_id="m-1", status_code=201, answer={"reply": "twin"}
        )
        return understand(**kwargs)

    monkeypatch.setattr(intake, "goal_understand", twin_commits_first)

    response = post_json(bearer(alice), URL, _message())

    assert response.status_code == 201
    assert response.json()["reply"] == "twin" and response.json()["replayed"] is True
    assert Goal.objects.count() == 0 and PlanRevision.objects.count() == 0
