"""``POST /api/v1/copilot`` over HTTP (the live server, a person's API token): the copilot
edits the draft through the same API and the answer lists the edits and the validation.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.fake_gptoss import FakeReply
from tests.workflows.copilot_helpers import (  # noqa: F401
    HTTP_STEP,
    fake_fixture,
    internal_api_fixture,
    target_create,
)
from workflows.models import Run
from workflows.services.tokens import api_token_create

pytestmark = pytest.mark.django_db(transaction=True)


def ask(base: str, user: Any, body: dict[str, Any]) -> requests.Response:
    _, raw = api_token_create(user=user, name="copilot-test", actor=None)
    return requests.post(
        f"{base}/api/v1/copilot",
        json=body,
        headers={"Authorization": f"Bearer {raw}"},
        timeout=120,
    )


def test_the_api_asks_the_copilot_and_returns_its_edits(alice, internal_api, fake):
    target = target_create()
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    fake.enqueue(
        FakeReply(tool_calls=[("create_step", {"workflow_id": target.pk, "step": step})]),
        FakeReply(tool_calls=[("validate_workflow", {"workflow_id": target.pk})]),
        FakeReply(final="Added notify_api after prepare."),
    )

    response = ask(
        internal_api,
        alice,
        {"message": "add an http step after prepare", "workflow": target.pk, "thread": "api-1"},
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "Added notify_api after prepare."
    assert (body["thread"], body["status"], body["validation"]) == ("api-1", "succeeded", [])
    assert [(e["op"], e.get("step") or e["edge"]["to"]) for e in body["edits"]] == [
        ("step_added", "notify_api"),
        ("edge_added", "notify_api"),
    ]
    assert body["draft_id"] == target.pk and body["rolled_back"] is False
    assert Run.objects.get(pk=body["run_id"]).trigger == "copilot"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"message": "", "workflow": 1}, 400, "message"),
        ({"message": "hi"}, 400, "workflow"),
        ({"message": "hi", "workflow": 1, "thread": "no spaces please"}, 400, "thread"),
        ({"message": "hi", "workflow": 1, "extra": True}, 400, "extra"),
        ({"message": "hi", "workflow": 999999}, 404, "Not Found"),
    ],
)
def test_bad_requests_are_named_and_start_nothing(alice, internal_api, body, status, says):
    response = ask(internal_api, alice, body)
    assert response.status_code == status
    assert says in response.text
    assert not Run.objects.exists()


def test_a_person_without_change_permission_gets_403(charlie, internal_api):
    target = target_create()
    response = ask(internal_api, charlie, {"message": "hi", "workflow": target.pk})
    assert response.status_code == 403
    assert (
        "workflows.change_workflow" in response.json()["detail"]
        or "view_workflow" in (response.json()["detail"])
    )
    assert not Run.objects.exists()


def test_a_wrong_token_is_refused_and_starts_nothing(internal_api):
    # A write that no bearer token authenticates falls to the session auth, whose CSRF
    # check answers 403 first (as for every API write).
    response = requests.post(
        f"{internal_api}/api/v1/copilot",
        json={"message": "hi", "workflow": 1},
        headers={"Authorization": "Bearer not-a-token"},
        timeout=20,
    )
    assert response.status_code == 403
    assert not Run.objects.exists()
