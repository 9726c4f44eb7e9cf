"""/api/v1 runs: start (202), list, detail with step runs, cancel, retry a step."""

from __future__ import annotations

import pytest

from decisions.models import AuditEvent
from tests.workflows.api_helpers import bearer, catalogue, post_json  # noqa: F401
from workflows.models import Run, StepRun, Workflow
from workflows.services.definitions import workflow_create
from workflows.services.runs import run_start

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

DOCUMENT = {
    "name": "Greeter",
    "input_schema": {
        "type": "object",
        "properties": {"who": {"type": "string"}},
        "required": ["who"],
    },
    "output": {"said": "{{ steps.greet.output.text }}"},
    "steps": [{"name": "greet", "block": "t-echo", "config": {"text": "hi {{ input.who }}"}}],
}


@pytest.fixture
def draft(alice) -> Workflow:
    return workflow_create(document=DOCUMENT, actor=alice)


@pytest.fixture
def published(draft) -> Workflow:
    # Publishing goes through governance (its own tests); here the state is arranged.
    Workflow.objects.filter(pk=draft.pk).update(status=Workflow.Status.PUBLISHED)
    draft.refresh_from_db()
    return draft


def test_alice_starts_a_run_and_gets_202(alice, published):
    response = post_json(
        bearer(alice), f"/api/v1/workflows/{published.pk}/runs", {"input": {"who": "Ann"}}
    )

    assert response.status_code == 202
    body = response.json()
    run = Run.objects.get(pk=body["id"])
    assert (run.status, run.trigger, run.triggered_by, run.input) == (
        "queued",
        "api",
        alice,
        {"who": "Ann"},
    )
    assert body["status"] == "queued"


def test_bad_input_is_400_with_every_problem_and_no_run(alice, published):
    response = post_json(
        bearer(alice), f"/api/v1/workflows/{published.pk}/runs", {"input": {"who": 5}}
    )

    assert response.status_code == 400
    assert response.json()["errors"]
    assert not Run.objects.exists()


def test_an_unknown_key_in_the_body_is_400(alice, published):
    response = post_json(
        bearer(alice), f"/api/v1/workflows/{published.pk}/runs", {"input": {"who": "A"}, "x": 1}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"code": "UNKNOWN_KEY", "message": "x: unknown key", "step": None, "path": "x"}
    ]


def test_a_draft_runs_only_as_a_test(alice, draft):
    client = bearer(alice)
    url = f"/api/v1/workflows/{draft.pk}/runs"

    assert post_json(client, url, {"input": {"who": "A"}}).status_code == 409
    response = post_json(client, url, {"input": {"who": "A"}, "test": True})
    assert response.status_code == 202
    assert response.json()["is_test"] is True


def test_bob_and_charlie_may_not_start_a_run(bob, charlie, published):
    url = f"/api/v1/workflows/{published.pk}/runs"
    assert post_json(bearer(bob), url, {"input": {"who": "A"}}).status_code == 403
    assert post_json(bearer(charlie), url, {"input": {"who": "A"}}).status_code == 403
    assert not Run.objects.exists()


def test_nobody_gets_401(client, published):
    assert post_json(client, f"/api/v1/workflows/{published.pk}/runs", {}).status_code == 401
    assert client.get(f"/api/v1/workflows/{published.pk}/runs").status_code == 401


def _runs(workflow: Workflow, actor, count: int) -> list[Run]:
    return [
        run_start(workflow=workflow, input={"who": str(i)}, triggered_by=actor)
        for i in range(count)
    ]


def test_bob_lists_a_workflows_runs_in_cursor_pages(alice, bob, published):
    made = _runs(published, alice, 3)
    client = bearer(bob)
    url = f"/api/v1/workflows/{published.pk}/runs"

    first = client.get(f"{url}?limit=2").json()
    assert [r["id"] for r in first["data"]] == [made[2].pk, made[1].pk]
    second = client.get(f"{url}?limit=2&cursor={first['next_cursor']}").json()
    assert [r["id"] for r in second["data"]] == [made[0].pk]
    assert second["next_cursor"] is None


def test_the_copilots_get_workflow_runs_filters_the_failed_ones(alice, bob, published):
    # What the copilot's get_workflow_runs tool asks before a diagnosis.
    made = _runs(published, alice, 3)
    Run.objects.filter(pk=made[1].pk).update(
        status="failed", error="step greet failed (upstream): 503"
    )
    url = f"/api/v1/workflows/{published.pk}/runs"

    body = bearer(bob).get(f"{url}?status=failed").json()

    assert [(r["id"], r["status"], r["error"]) for r in body["data"]] == [
        (made[1].pk, "failed", "step greet failed (upstream): 503")
    ]
    refused = bearer(bob).get(f"{url}?status=broken")
    assert refused.status_code == 400
    assert "status" in refused.text


def test_charlie_may_not_list_or_read_runs(alice, charlie, published):
    [run] = _runs(published, alice, 1)
    assert bearer(charlie).get(f"/api/v1/workflows/{published.pk}/runs").status_code == 403
    assert bearer(charlie).get(f"/api/v1/runs/{run.pk}").status_code == 403


def test_the_run_detail_has_its_step_runs(alice, bob, published):
    [run] = _runs(published, alice, 1)

    response = bearer(bob).get(f"/api/v1/runs/{run.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == run.pk
    assert [(s["step"], s["status"]) for s in body["step_runs"]] == [("greet", "pending")]


def test_a_missing_run_is_404(alice):
    assert bearer(alice).get("/api/v1/runs/999999").status_code == 404


def test_alice_cancels_an_open_run_and_twice_is_409(alice, published):
    [run] = _runs(published, alice, 1)
    client = bearer(alice)

    response = client.post(f"/api/v1/runs/{run.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert AuditEvent.objects.filter(action="workflows.run_cancelled", actor=alice).exists()

    again = client.post(f"/api/v1/runs/{run.pk}/cancel")
    assert again.status_code == 409
    assert again.json()["errors"][0]["code"] == "STATE"


def test_bob_may_not_cancel(alice, bob, published):
    [run] = _runs(published, alice, 1)
    assert bearer(bob).post(f"/api/v1/runs/{run.pk}/cancel").status_code == 403
    run.refresh_from_db()
    assert run.status == "queued"


def _failed(run: Run) -> StepRun:
    # The engine's own tests fail steps for real; here the state is arranged.
    step_run = run.step_runs.get()
    StepRun.objects.filter(pk=step_run.pk).update(status="failed", error_class="upstream")
    Run.objects.filter(pk=run.pk).update(status="failed")
    return step_run


def test_alice_retries_a_failed_step(alice, published):
    [run] = _runs(published, alice, 1)
    step_run = _failed(run)

    response = bearer(alice).post(f"/api/v1/runs/{run.pk}/steps/{step_run.pk}/retry")

    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    run.refresh_from_db()
    assert run.status == "running"


def test_retrying_a_step_that_did_not_fail_is_409(alice, published):
    [run] = _runs(published, alice, 1)
    step_run = run.step_runs.get()

    response = bearer(alice).post(f"/api/v1/runs/{run.pk}/steps/{step_run.pk}/retry")

    assert response.status_code == 409


def test_retrying_needs_execute_permission(alice, bob, published):
    [run] = _runs(published, alice, 1)
    step_run = _failed(run)

    response = bearer(bob).post(f"/api/v1/runs/{run.pk}/steps/{step_run.pk}/retry")

    assert response.status_code == 403
    assert "execute_workflow" in response.json()["detail"]


def test_a_step_run_of_another_run_is_404(alice, published):
    first, second = _runs(published, alice, 2)
    step_run = _failed(second)

    response = bearer(alice).post(f"/api/v1/runs/{first.pk}/steps/{step_run.pk}/retry")

    assert response.status_code == 404
