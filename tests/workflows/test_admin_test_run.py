"""Test-running a workflow from the admin: the button (execute permission only), the
form pre-filled from the input schema, every problem of a bad input shown with nothing
started, and a started run opening on its page."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from decisions.models import AuditEvent
from tests.workflows.engine_blocks import workflow_build
from workflows.models import Run, RunTrigger, Workflow
from workflows.schema_example import schema_example

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 2},
        "n": {"type": "integer", "minimum": 1},
        "tone": {"enum": ["kind", "terse"]},
    },
    "required": ["question", "n"],
    "additionalProperties": False,
}


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task", lambda func, pk, **kw: sent.append(pk)
    )
    return sent


def draft(status: str = Workflow.Status.DRAFT) -> Workflow:
    return workflow_build(
        steps=[{"name": "a", "block": "test-echo", "config": {"value": "{{ input.question }}"}}],
        input_schema=SCHEMA,
        output={"a": "{{ steps.a.output }}"},
        status=status,
    )


def run_url(workflow: Workflow) -> str:
    return reverse("admin:workflows_workflow_run", args=[workflow.pk])


def test_the_change_page_shows_the_button_to_those_who_may_execute(client, alice, bob):
    workflow = draft()
    change = reverse("admin:workflows_workflow_change", args=[workflow.pk])
    client.force_login(alice)
    assert 'id="workflow-test-run"' in client.get(change).content.decode()
    client.force_login(bob)  # may view, not execute
    page = client.get(change)
    assert page.status_code == 200 and 'id="workflow-test-run"' not in page.content.decode()


def test_the_form_starts_with_an_example_from_the_input_schema(client, alice):
    client.force_login(alice)
    response = client.get(run_url(draft()))
    assert response.status_code == 200
    prefilled = json.loads(response.context["form"].initial["input"])
    assert prefilled == {"question": "xx", "n": 1, "tone": "kind"}


def test_a_valid_input_starts_a_test_run_and_opens_its_page(
    client, alice, enqueued, django_capture_on_commit_callbacks
):
    workflow = draft()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(run_url(workflow), {"input": '{"question": "hi", "n": 2}'})
    run = Run.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:workflows_run_change", args=[run.pk])
    assert (run.is_test, run.trigger, run.triggered_by, run.input) == (
        True,
        RunTrigger.ADMIN,
        alice,
        {"question": "hi", "n": 2},
    )
    assert enqueued == [run.step_runs.get().pk]  # its start step is queued
    assert AuditEvent.objects.get(action="workflows.run_queued").actor == alice


def test_a_published_version_runs_for_real_from_the_same_button(client, alice, enqueued):
    workflow = draft(Workflow.Status.PUBLISHED)
    client.force_login(alice)
    client.post(run_url(workflow), {"input": '{"question": "hi", "n": 2}'})
    assert Run.objects.get().is_test is False


def test_bad_json_is_shown_and_starts_nothing(client, alice, enqueued):
    client.force_login(alice)
    response = client.post(run_url(draft()), {"input": '{"question": "hi",'})
    assert response.status_code == 200
    assert "Not JSON" in response.content.decode()
    assert not Run.objects.exists() and not enqueued


def test_input_not_an_object_is_refused(client, alice, enqueued):
    client.force_login(alice)
    response = client.post(run_url(draft()), {"input": "[1, 2]"})
    assert "must be a JSON object" in response.content.decode()
    assert not Run.objects.exists()


def test_every_schema_problem_is_shown_and_nothing_starts(client, alice, enqueued):
    client.force_login(alice)
    response = client.post(run_url(draft()), {"input": '{"question": "h", "extra": 1}'})
    assert response.status_code == 200
    problems = response.context["problems"]
    assert len(problems) == 3, problems  # too short, n missing, extra not allowed
    text = " ".join(problems)
    assert "question" in text and "'n'" in text and "extra" in text
    assert not Run.objects.exists() and not enqueued


def test_a_retired_version_does_not_run(client, alice, enqueued):
    client.force_login(alice)
    response = client.post(
        run_url(draft(Workflow.Status.RETIRED)), {"input": '{"question": "hi", "n": 2}'}
    )
    assert "only a published version runs" in " ".join(response.context["problems"])
    assert not Run.objects.exists()


def test_without_execute_permission_it_is_forbidden(client, bob, charlie, enqueued):
    workflow = draft()
    for person in (bob, charlie):
        client.force_login(person)
        assert client.get(run_url(workflow)).status_code == 403
        response = client.post(run_url(workflow), {"input": '{"question": "hi", "n": 2}'})
        assert response.status_code == 403
    assert not Run.objects.exists()


@pytest.mark.parametrize(
    ("schema", "example"),
    [
        ({"type": "object"}, {}),
        ({"type": "object", "properties": {"a": {"type": "string", "default": "d"}}}, {"a": "d"}),
        ({"type": "array", "items": {"type": "boolean"}, "minItems": 2}, [False, False]),
        ({"type": ["null", "number"], "exclusiveMinimum": 0}, 1),
        ({"anyOf": [{"type": "string", "examples": ["ex"]}]}, "ex"),
    ],
)
def test_the_example_honours_what_the_schema_says(schema, example):
    assert schema_example(schema) == example
