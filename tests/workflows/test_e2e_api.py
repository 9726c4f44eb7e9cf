"""The REST API end to end with the real blocks: adding a connected step, an invalid
document refused with every problem, test runs of drafts, and runs pinned to the
version they started on while the workflow is edited."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from decisions.models import AuditEvent
from tests.workflows.api_helpers import bearer, post_json, put_json
from tests.workflows.engine_blocks import run_drain
from tests.workflows.factories import document, set_step, workflow_published
from workflows.models import Run, Step, Workflow
from workflows.services.definitions import workflow_create

pytestmark = pytest.mark.django_db


def steps_of(workflow_id: int) -> list[str]:
    return list(Step.objects.filter(workflow_id=workflow_id).values_list("name", flat=True))


# --- POST /workflows/{id}/steps with its edges ------------------------------------------


def test_alice_adds_a_step_with_the_edge_that_connects_it(alice):
    workflow = workflow_create(document=document(), actor=alice)
    step = {
        **set_step("thanks", "Thank you"),
        "edges": [{"from": "reply", "port": "out", "to": "thanks"}],
    }

    response = post_json(bearer(alice), f"/api/v1/workflows/{workflow.pk}/steps", step)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["id"] == workflow.pk
    assert [s["name"] for s in body["document"]["steps"]] == ["greet", "reply", "thanks"]
    assert body["document"]["edges"] == [
        {"from": "greet", "port": "out", "to": "reply"},
        {"from": "reply", "port": "out", "to": "thanks"},
    ]
    assert steps_of(workflow.pk) == ["greet", "reply", "thanks"]
    event = AuditEvent.objects.filter(action="workflows.workflow_updated", actor=alice).latest("pk")
    assert (event.data["change"], event.data["step"]) == ("step_added", "thanks")


def test_adding_a_step_to_a_published_workflow_makes_the_next_draft(alice):
    published = workflow_published(document())
    step = {**set_step("thanks"), "edges": [{"from": "reply", "to": "thanks"}]}

    response = post_json(bearer(alice), f"/api/v1/workflows/{published.pk}/steps", step)

    assert response.status_code == 201, response.json()
    draft = Workflow.objects.get(pk=response.json()["id"])
    assert (draft.key, draft.version, draft.status) == (published.key, 2, "draft")
    assert steps_of(draft.pk) == ["greet", "reply", "thanks"]
    assert steps_of(published.pk) == ["greet", "reply"]


def test_a_step_with_wrong_edges_is_refused_with_every_problem(alice):
    workflow = workflow_create(document=document(), actor=alice)
    client = bearer(alice)
    url = f"/api/v1/workflows/{workflow.pk}/steps"
    dangling = {
        **set_step("thanks"),
        "edges": [
            {"from": "reply", "to": "thanks"},
            {"from": "ghost", "to": "thanks"},
            {"from": "reply", "port": "sideways", "to": "thanks"},
        ],
    }
    looping = {
        **set_step("thanks"),
        "edges": [{"from": "reply", "to": "thanks"}, {"from": "thanks", "to": "greet"}],
    }

    response = post_json(client, url, dangling)

    assert response.status_code == 400
    errors = {(e["code"], e["path"]) for e in response.json()["errors"]}
    # The step's edges come after the workflow's one (edges.0) in the document.
    assert errors == {("UNKNOWN_STEP", "edges.2.from"), ("UNKNOWN_PORT", "edges.3.port")}

    response = post_json(client, url, looping)

    assert response.status_code == 400
    # greet -> reply -> thanks -> greet: a loop, and no step left to start from.
    assert {"CYCLE", "START"} & {e["code"] for e in response.json()["errors"]}
    assert steps_of(workflow.pk) == ["greet", "reply"]
    assert workflow.edges.count() == 1
    assert not AuditEvent.objects.filter(action="workflows.workflow_updated").exists()


def test_a_step_whose_edges_have_the_wrong_shape_is_400(alice):
    workflow = workflow_create(document=document(), actor=alice)
    step = {**set_step("thanks"), "edges": [{"from": "reply", "to": 3, "via": "x"}]}

    response = post_json(bearer(alice), f"/api/v1/workflows/{workflow.pk}/steps", step)

    assert response.status_code == 400
    paths = {(e["code"], e["path"]) for e in response.json()["errors"]}
    assert paths == {("TYPE", "edges.0.to"), ("UNKNOWN_KEY", "edges.0.via")}
    assert steps_of(workflow.pk) == ["greet", "reply"]


# --- an invalid document: every problem, nothing saved ----------------------------------


def broken_document() -> dict[str, Any]:
    """A document wrong in many ways at once, shape and graph alike."""
    return {
        "name": "Broken",
        "timeout_seconds": "soon",  # TYPE
        "colour": "blue",  # UNKNOWN_KEY
        "input_schema": {"type": "object", "properties": {"question": {"type": "string"}}},
        "output": {"answer": "{{ steps.nowhere.output }}"},  # UNKNOWN_STEP
        "steps": [
            {"name": "start", "block": "set-variables", "config": {"variables": "x"}},  # SCHEMA
            {"name": "Bad Name", "block": "set-variables", "config": {"variables": []}},  # BAD_NAME
            {"name": "magic", "block": "teleport"},  # UNKNOWN_BLOCK
            {
                "name": "ask",
                "block": "llm",
                "config": {"prompt": "{{ input.qestion }}"},  # UNRESOLVED_REF
            },
            {"name": "loop_a", "block": "set-variables", "config": {"variables": []}},
            {"name": "loop_b", "block": "set-variables", "config": {"variables": []}},
        ],
        "edges": [
            {"from": "start", "port": "maybe", "to": "ask"},  # UNKNOWN_PORT
            {"from": "loop_a", "to": "loop_b"},  # CYCLE
            {"from": "loop_b", "to": "loop_a"},
        ],
    }


def test_an_invalid_document_is_refused_with_all_its_errors_and_nothing_saved(alice):
    client = bearer(alice)
    before = AuditEvent.objects.count()

    response = post_json(client, "/api/v1/workflows", broken_document())

    assert response.status_code == 400
    errors = response.json()["errors"]
    codes = {e["code"] for e in errors}
    assert {
        "TYPE",
        "UNKNOWN_KEY",
        "SCHEMA",
        "BAD_NAME",
        "UNKNOWN_BLOCK",
        "UNRESOLVED_REF",
        "UNKNOWN_PORT",
        "UNKNOWN_STEP",
        "CYCLE",
    } <= codes, errors
    paths = {(e["code"], e["path"]) for e in errors}
    assert ("TYPE", "timeout_seconds") in paths
    assert ("UNKNOWN_KEY", "colour") in paths
    assert all(e["message"] for e in errors)
    assert not Workflow.objects.exists()
    assert not Step.objects.exists()
    assert AuditEvent.objects.count() == before


def test_a_document_valid_in_shape_gets_every_graph_problem(alice):
    bad = broken_document()
    del bad["colour"]
    bad["timeout_seconds"] = 60

    response = post_json(bearer(alice), "/api/v1/workflows", bad)

    assert response.status_code == 400
    codes = {e["code"] for e in response.json()["errors"]}
    assert {"SCHEMA", "BAD_NAME", "UNKNOWN_BLOCK", "UNKNOWN_PORT", "CYCLE"} <= codes
    assert not Workflow.objects.exists()


# --- test runs of drafts, and pinned versions -------------------------------------------


def test_alice_test_runs_a_draft_and_bob_may_not(alice, bob):
    draft = workflow_create(document=document(), actor=alice)
    url = f"/api/v1/workflows/{draft.pk}/runs"

    refused = post_json(bearer(bob), url, {"input": {"question": "hi"}, "test": True})
    assert refused.status_code == 403
    assert not Run.objects.exists()

    not_a_test = post_json(bearer(alice), url, {"input": {"question": "hi"}})
    assert not_a_test.status_code == 409
    assert not Run.objects.exists()

    response = post_json(bearer(alice), url, {"input": {"question": "hi"}, "test": True})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["workflow_id"], body["is_test"], body["status"]) == (draft.pk, True, "queued")
    run = run_drain(Run.objects.get(pk=body["id"]))
    assert run.status == Run.Status.SUCCEEDED
    assert run.output == {"answer": "1"}
    assert run.triggered_by == alice
    draft.refresh_from_db()
    assert draft.status == Workflow.Status.DRAFT


def test_a_run_keeps_the_version_it_started_on_while_the_workflow_is_edited(alice):
    published = workflow_published(document())
    client = bearer(alice)

    started = post_json(client, f"/api/v1/workflows/{published.pk}/runs", {"input": {}})
    assert started.status_code == 202, started.json()
    changed = copy.deepcopy(document())
    changed["steps"][1]["config"]["variables"][0]["value"] = "changed"
    changed["steps"].append(set_step("extra"))
    changed["edges"].append({"from": "reply", "to": "extra"})
    edited = put_json(client, f"/api/v1/workflows/{published.pk}", changed)
    assert edited.status_code == 200, edited.json()
    draft_id = edited.json()["id"]
    assert draft_id != published.pk

    run = run_drain(Run.objects.get(pk=started.json()["id"]))

    assert run.status == Run.Status.SUCCEEDED
    assert run.workflow_id == published.pk
    assert run.output == {"answer": "1"}
    assert sorted(run.step_runs.values_list("step__name", flat=True)) == ["greet", "reply"]
    assert set(run.step_runs.values_list("step__workflow_id", flat=True)) == {published.pk}
    # The edit went to the new draft, which a test run shows.
    test_run = post_json(client, f"/api/v1/workflows/{draft_id}/runs", {"test": True})
    assert test_run.status_code == 202
    assert run_drain(Run.objects.get(pk=test_run.json()["id"])).output == {"answer": "changed"}
