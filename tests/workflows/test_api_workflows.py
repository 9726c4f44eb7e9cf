"""/api/v1/workflows: documents, steps, edges and validation over the real URLs."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from decisions.models import AuditEvent
from tests.workflows.api_helpers import bearer, catalogue, post_json, put_json  # noqa: F401
from workflows.models import Edge, Step, Workflow
from workflows.services.definitions import workflow_create

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

DOCUMENT: dict[str, Any] = {
    "name": "Greeter",
    "description": "Says hello.",
    "input_schema": {"type": "object", "properties": {"who": {"type": "string"}}},
    "output": {"said": "{{ steps.greet.output.text }}"},
    "steps": [
        {"name": "greet", "block": "t-echo", "config": {"text": "hello {{ input.who }}"}},
        {"name": "reply", "block": "t-echo", "config": {"text": "{{ steps.greet.output.text }}"}},
    ],
    "edges": [{"from": "greet", "port": "out", "to": "reply"}],
}


def document(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(DOCUMENT), **changes}


@pytest.fixture
def greeter(alice) -> Workflow:
    return workflow_create(document=document(), actor=alice)


# --- create ---------------------------------------------------------------------------


def test_alice_creates_a_draft_from_a_document(alice):
    response = post_json(bearer(alice), "/api/v1/workflows", document())

    assert response.status_code == 201
    body = response.json()
    workflow = Workflow.objects.get(pk=body["id"])
    assert (workflow.status, workflow.version, workflow.name) == ("draft", 1, "Greeter")
    assert [step["name"] for step in body["document"]["steps"]] == ["greet", "reply"]
    assert body["document"]["edges"] == [{"from": "greet", "port": "out", "to": "reply"}]
    assert body["edges"][0]["id"] == Edge.objects.get(workflow=workflow).pk
    assert AuditEvent.objects.filter(action="workflows.workflow_created", actor=alice).exists()


def test_an_invalid_document_is_refused_with_every_problem_and_nothing_saved(alice):
    bad = document(
        name=7,
        surprise=True,
        steps=[
            {"name": "greet", "block": "no-such-block"},
            {"name": "reply", "block": "t-echo", "config": {"text": "{{ steps.nope.output }}"}},
        ],
        edges=[{"from": "greet", "port": "out", "to": "ghost"}],
    )

    response = post_json(bearer(alice), "/api/v1/workflows", bad)

    assert response.status_code == 400
    codes = {(error["code"], error["path"]) for error in response.json()["errors"]}
    assert ("TYPE", "name") in codes
    assert ("UNKNOWN_KEY", "surprise") in codes
    assert "UNKNOWN_BLOCK" in {code for code, _ in codes}
    assert "UNKNOWN_STEP" in {code for code, _ in codes}
    assert not Workflow.objects.exists()
    assert not Step.objects.exists()


def test_a_graph_problem_alone_is_a_400_from_the_service(alice):
    bad = document(edges=[{"from": "reply", "port": "out", "to": "greet"}, *DOCUMENT["edges"]])

    response = post_json(bearer(alice), "/api/v1/workflows", bad)

    assert response.status_code == 400
    # The loop leaves no step without an incoming edge: nowhere to start.
    assert "START" in {error["code"] for error in response.json()["errors"]}
    assert not Workflow.objects.exists()


def test_an_error_never_echoes_a_submitted_secret(alice):
    secret = "sk-live-0123456789abcdef"
    bad = document(steps=[{"name": "greet", "block": "t-echo", "config": {"text": 5}, "x": secret}])

    response = post_json(bearer(alice), "/api/v1/workflows", bad)

    assert response.status_code == 400
    assert secret not in response.content.decode()


def test_bob_may_not_create_and_charlie_may_not_either(bob, charlie):
    assert post_json(bearer(bob), "/api/v1/workflows", document()).status_code == 403
    assert post_json(bearer(charlie), "/api/v1/workflows", document()).status_code == 403
    assert not Workflow.objects.exists()


def test_nobody_gets_401(client):
    assert post_json(client, "/api/v1/workflows", document()).status_code == 401
    assert client.get("/api/v1/workflows").status_code == 401


# --- read -----------------------------------------------------------------------------


def test_it_lists_newest_first_in_cursor_pages(alice, bob):
    made = [workflow_create(document=document(name=f"W{i}"), actor=alice) for i in range(3)]
    client = bearer(bob)

    first = client.get("/api/v1/workflows?limit=2").json()
    assert [w["id"] for w in first["data"]] == [made[2].pk, made[1].pk]
    second = client.get(f"/api/v1/workflows?limit=2&cursor={first['next_cursor']}").json()
    assert [w["id"] for w in second["data"]] == [made[0].pk]
    assert second["next_cursor"] is None


def test_it_filters_the_list_by_status(alice, greeter):
    client = bearer(alice)
    assert [w["id"] for w in client.get("/api/v1/workflows?status=draft").json()["data"]] == [
        greeter.pk
    ]
    assert client.get("/api/v1/workflows?status=published").json()["data"] == []
    assert client.get("/api/v1/workflows?status=bogus").status_code == 400


def test_it_searches_the_list_by_words_in_name_key_or_description(alice, greeter):
    # What the copilot's list_workflows tool asks when a person names a workflow loosely.
    other = workflow_create(
        document=document(name="Invoice chaser", key="invoices", description="Reminds."),
        actor=alice,
    )
    client = bearer(alice)

    def found(search: str) -> list[int]:
        return [w["id"] for w in client.get("/api/v1/workflows", {"search": search}).json()["data"]]

    assert found("GREETER") == [greeter.pk]
    assert found("invoices") == [other.pk]
    assert found("says hello") == [greeter.pk]
    assert found("hello invoice") == []
    assert found("  ") == [other.pk, greeter.pk]


def test_bob_reads_one_workflow_and_charlie_is_refused(bob, charlie, greeter):
    response = bearer(bob).get(f"/api/v1/workflows/{greeter.pk}")
    assert response.status_code == 200
    assert response.json()["document"]["name"] == "Greeter"
    assert bearer(charlie).get(f"/api/v1/workflows/{greeter.pk}").status_code == 403
    assert bearer(charlie).get("/api/v1/workflows").status_code == 403


def test_a_missing_workflow_is_404(alice):
    assert bearer(alice).get("/api/v1/workflows/424242").status_code == 404


# --- update and delete ----------------------------------------------------------------


def test_alice_replaces_a_drafts_document(alice, greeter):
    response = put_json(
        bearer(alice), f"/api/v1/workflows/{greeter.pk}", document(description="Now polite.")
    )

    assert response.status_code == 200
    assert response.json()["id"] == greeter.pk
    greeter.refresh_from_db()
    assert greeter.description == "Now polite."


def test_an_invalid_replacement_changes_nothing(alice, greeter):
    bad = document(steps=[{"name": "greet", "block": "nope"}], edges=[])

    response = put_json(bearer(alice), f"/api/v1/workflows/{greeter.pk}", bad)

    assert response.status_code == 400
    assert list(greeter.steps.values_list("name", flat=True)) == ["greet", "reply"]


def test_a_badly_shaped_replacement_gets_every_problem_like_a_create(alice, greeter):
    # Pydantic refuses the shape (name is not a string); the validator's problems with
    # the blocks and edges must come in the same answer, as they do for a POST.
    bad = document(name=7, steps=[{"name": "greet", "block": "nope"}], edges=[])

    response = put_json(bearer(alice), f"/api/v1/workflows/{greeter.pk}", bad)

    assert response.status_code == 400
    codes = {error["code"] for error in response.json()["errors"]}
    assert {"TYPE", "UNKNOWN_BLOCK"} <= codes
    assert list(greeter.steps.values_list("name", flat=True)) == ["greet", "reply"]


def test_bob_may_not_replace(bob, greeter):
    assert put_json(bearer(bob), f"/api/v1/workflows/{greeter.pk}", document()).status_code == 403


def test_alice_deletes_a_draft_and_bob_may_not(alice, bob, greeter):
    assert bearer(bob).delete(f"/api/v1/workflows/{greeter.pk}").status_code == 403
    assert Workflow.objects.filter(pk=greeter.pk).exists()

    assert bearer(alice).delete(f"/api/v1/workflows/{greeter.pk}").status_code == 204
    assert not Workflow.objects.filter(pk=greeter.pk).exists()


# --- steps and edges ------------------------------------------------------------------


def test_adding_an_unconnected_step_is_refused_as_unreachable(alice, greeter):
    # Every write leaves a valid document: a step needs its edge, which needs the step.
    response = post_json(
        bearer(alice), f"/api/v1/workflows/{greeter.pk}/steps", {"name": "spare", "block": "t-echo"}
    )

    assert response.status_code == 400
    assert "START" in {e["code"] for e in response.json()["errors"]}
    assert not Step.objects.filter(name="spare").exists()


def test_alice_changes_and_removes_a_step(alice, greeter):
    client = bearer(alice)
    url = f"/api/v1/workflows/{greeter.pk}/steps"

    changed = put_json(
        client, f"{url}/reply", {"name": "answer", "block": "t-echo", "description": "x"}
    )
    assert changed.status_code == 200, changed.json()
    step = Step.objects.get(workflow=greeter, name="answer")
    assert step.description == "x"
    # Renamed, still wired: edges are kept by id.
    assert changed.json()["document"]["edges"] == [{"from": "greet", "port": "out", "to": "answer"}]

    removed = client.delete(f"{url}/answer")
    assert removed.status_code == 200, removed.json()
    assert list(greeter.steps.values_list("name", flat=True)) == ["greet"]
    assert not Edge.objects.filter(workflow=greeter).exists()


def test_a_step_with_a_wrong_type_is_400_and_not_added(alice, greeter):
    response = post_json(
        bearer(alice),
        f"/api/v1/workflows/{greeter.pk}/steps",
        {"name": "spare", "block": "t-echo", "tool_only": "yes", "timeout_seconds": "10"},
    )

    assert response.status_code == 400
    paths = {(e["code"], e["path"]) for e in response.json()["errors"]}
    assert paths == {("TYPE", "tool_only"), ("TYPE", "timeout_seconds")}
    assert not Step.objects.filter(name="spare").exists()


def test_a_missing_step_is_404(alice, greeter):
    assert bearer(alice).delete(f"/api/v1/workflows/{greeter.pk}/steps/ghost").status_code == 404


def test_alice_adds_and_deletes_an_edge(alice):
    fork = document(
        steps=[*DOCUMENT["steps"], {"name": "bye", "block": "t-echo"}],
        edges=[*DOCUMENT["edges"], {"from": "greet", "to": "bye"}],
    )
    workflow = workflow_create(document=fork, actor=alice)
    client = bearer(alice)

    added = post_json(
        client, f"/api/v1/workflows/{workflow.pk}/edges", {"from": "reply", "to": "bye"}
    )
    assert added.status_code == 201, added.json()
    edge = added.json()
    assert (edge["from"], edge["port"], edge["to"], edge["workflow_id"]) == (
        "reply",
        "out",
        "bye",
        workflow.pk,
    )
    assert Edge.objects.filter(pk=edge["id"], source__name="reply").exists()

    removed = client.delete(f"/api/v1/workflows/{workflow.pk}/edges/{edge['id']}")
    assert removed.status_code == 200, removed.json()
    assert not Edge.objects.filter(source__name="reply", target__name="bye").exists()


def test_removing_an_edge_that_strands_a_step_is_refused(alice, greeter):
    edge = Edge.objects.get(workflow=greeter)

    response = bearer(alice).delete(f"/api/v1/workflows/{greeter.pk}/edges/{edge.pk}")

    assert response.status_code == 400
    assert Edge.objects.filter(pk=edge.pk).exists()


def test_an_edge_of_another_workflow_is_404(alice, greeter):
    other = workflow_create(document=document(name="Other"), actor=alice)
    edge = Edge.objects.get(workflow=other)

    assert (
        bearer(alice).delete(f"/api/v1/workflows/{greeter.pk}/edges/{edge.pk}").status_code == 404
    )


def test_bob_may_not_touch_steps_or_edges(bob, greeter):
    client = bearer(bob)
    step = {"name": "spare", "block": "t-echo", "tool_only": True}
    assert post_json(client, f"/api/v1/workflows/{greeter.pk}/steps", step).status_code == 403
    assert client.delete(f"/api/v1/workflows/{greeter.pk}/steps/reply").status_code == 403
    edge = Edge.objects.get(workflow=greeter)
    assert client.delete(f"/api/v1/workflows/{greeter.pk}/edges/{edge.pk}").status_code == 403


# --- validate -------------------------------------------------------------------------


def test_the_stored_workflow_validates(bob, greeter):
    response = bearer(bob).post(f"/api/v1/workflows/{greeter.pk}/validate")

    assert response.status_code == 200
    assert response.json() == {"valid": True, "errors": []}


def test_a_candidate_document_gets_every_problem_and_is_not_saved(alice, greeter):
    candidate = document(steps=[{"name": "Greet", "block": "nope"}], edges=[], extra=1)

    response = post_json(bearer(alice), f"/api/v1/workflows/{greeter.pk}/validate", candidate)

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is False
    assert {"BAD_NAME", "UNKNOWN_BLOCK", "UNKNOWN_KEY"} <= {e["code"] for e in body["errors"]}
    assert list(greeter.steps.values_list("name", flat=True)) == ["greet", "reply"]


def test_charlie_may_not_validate(charlie, greeter):
    assert bearer(charlie).post(f"/api/v1/workflows/{greeter.pk}/validate").status_code == 403
