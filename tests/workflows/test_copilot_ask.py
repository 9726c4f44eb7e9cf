"""``copilot_ask`` end to end over HTTP: the system workflow's agent (fake gpt-oss,
scripted with tool calls) edits a user's draft through the live REST API with its
scoped token, and the handler reports the edits and the validation.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied

from decisions.models import AuditEvent
from tests.fake_gptoss import FakeReply
from tests.workflows.copilot_helpers import (
    HTTP_STEP,
    TARGET,
    fake_fixture,  # noqa: F401
    internal_api_fixture,  # noqa: F401
    issued_fixture,  # noqa: F401
    target_create,
    tool_results,
)
from tests.workflows.factories import workflow_published
from workflows.models import Edge, Run, StepRun, Workflow
from workflows.selectors import document_problems, workflow_document
from workflows.services.copilot import copilot_ask

pytestmark = pytest.mark.django_db(transaction=True)

ASK = "add an http step after prepare and connect it"


def add_step_call(workflow_id: int) -> FakeReply:
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    return FakeReply(
        analysis="Add the step with its edge.",
        tool_calls=[("create_step", {"workflow_id": workflow_id, "step": step})],
    )


def validate_call(workflow_id: int) -> FakeReply:
    return FakeReply(
        analysis="Validate.", tool_calls=[("validate_workflow", {"workflow_id": workflow_id})]
    )


def test_add_an_http_step_after_x_and_connect_it(alice, internal_api, fake):
    target = target_create()
    fake.enqueue(
        add_step_call(target.pk),
        validate_call(target.pk),
        FakeReply(final="Added notify_api after prepare; the workflow is valid."),
    )

    answer = copilot_ask(user=alice, workflow_id=target.pk, message=ASK)

    assert answer.status == Run.Status.SUCCEEDED
    assert answer.text == "Added notify_api after prepare; the workflow is valid."
    assert answer.validation == []
    assert [e["op"] for e in answer.edits] == ["step_added", "edge_added"]
    assert answer.edits[0]["step"] == "notify_api" and answer.edits[0]["before"] is None
    assert answer.edits[1]["edge"] == {"from": "prepare", "port": "out", "to": "notify_api"}
    # The draft really has the step and the edge, and the validator accepts it.
    target.refresh_from_db()
    assert target.status == Workflow.Status.DRAFT
    assert Edge.objects.filter(
        workflow=target, source__name="prepare", target__name="notify_api"
    ).exists()
    assert document_problems(document=workflow_document(workflow=target)) == []
    # The model read the API's answers: the created step, then the validation.
    results = dict(tool_results(fake, 2))
    assert json.loads(results["create_step"])["status"] == 201
    assert json.loads(results["validate_workflow"])["json"] == {"valid": True, "errors": []}
    # The edit acts as alice and carries her request as its intent.
    row = AuditEvent.objects.get(action="workflows.workflow_updated", data__change="step_added")
    assert row.data["intent"] == f"copilot run #{answer.run_id}: {ASK}"
    assert row.actor == alice


def test_an_invalid_edit_gets_the_validator_errors_and_is_repaired(alice, internal_api, fake):
    target = target_create()
    dangling = {**HTTP_STEP}  # no edge into it: a second start, refused by the validator
    fake.enqueue(
        FakeReply(
            analysis="Add it.",
            tool_calls=[("create_step", {"workflow_id": target.pk, "step": dangling})],
        ),
        add_step_call(target.pk),
        validate_call(target.pk),
        FakeReply(final="Connected notify_api after prepare (first try lacked the edge)."),
    )

    answer = copilot_ask(user=alice, workflow_id=target.pk, message=ASK)

    assert answer.status == Run.Status.SUCCEEDED
    refused = json.loads(dict(tool_results(fake, 1))["create_step"])
    assert refused["status"] == 400
    problems = refused["json"]["errors"]
    assert [p["code"] for p in problems] == ["START"]
    assert "start" in problems[0]["message"].lower()
    assert [e["op"] for e in answer.edits] == ["step_added", "edge_added"]
    assert answer.validation == []


def test_a_failed_batch_leaves_the_draft_unchanged(alice, internal_api, fake):
    target = target_create()
    before = workflow_document(workflow=target)
    fake.enqueue(
        add_step_call(target.pk),
        # The model then breaks down: the agent fails, so the run fails.
        *[FakeReply(failure="malformed_harmony") for _ in range(6)],
    )

    answer = copilot_ask(user=alice, workflow_id=target.pk, message=ASK)

    assert answer.status == Run.Status.FAILED
    assert answer.rolled_back is True
    assert answer.edits == []
    assert "did not finish" in answer.text and "undone" in answer.text
    target.refresh_from_db()
    assert workflow_document(workflow=target) == before
    assert AuditEvent.objects.filter(action="workflows.copilot_rolled_back").count() == 1


def test_a_published_workflow_is_edited_in_its_next_draft_and_undone_by_deleting_it(
    alice, internal_api, fake
):
    published = workflow_published(TARGET)
    fake.enqueue(
        add_step_call(published.pk),
        *[FakeReply(failure="malformed_harmony") for _ in range(6)],
    )

    answer = copilot_ask(user=alice, workflow_id=published.pk, message=ASK)

    assert answer.rolled_back is True
    # The edit had made version 2 (a draft); undoing the batch removed it again.
    assert list(Workflow.objects.filter(key="order-intake").values_list("version", "status")) == [
        (1, "published")
    ]


def test_memory_carries_to_the_next_message_of_the_thread(alice, internal_api, fake):
    target = target_create()
    fake.enqueue(FakeReply(final="It has one step, prepare."))
    first = copilot_ask(user=alice, workflow_id=target.pk, message="What does it do?")
    fake.enqueue(FakeReply(final="Yes, prepare is the only step."))

    second = copilot_ask(
        user=alice, workflow_id=target.pk, message="Only that one?", thread=first.thread
    )

    assert second.thread == first.thread
    prompt = fake.requests[1].prompt_text
    assert "What does it do?" in prompt and "It has one step, prepare." in prompt
    # A new thread starts empty.
    fake.enqueue(FakeReply(final="Fresh."))
    copilot_ask(user=alice, workflow_id=target.pk, message="Hello")
    assert "What does it do?" not in fake.requests[2].prompt_text


def test_the_token_never_appears_in_stored_runs(alice, internal_api, fake, issued):
    target = target_create()
    fake.enqueue(add_step_call(target.pk), validate_call(target.pk), FakeReply(final="Done."))

    answer = copilot_ask(user=alice, workflow_id=target.pk, message=ASK)

    assert answer.status == Run.Status.SUCCEEDED
    assert issued, "the copilot's http tools were given the internal token"
    stored = repr(
        [
            *Run.objects.values_list("input", "output", "vars", "error"),
            *StepRun.objects.values_list("input", "output", "error_message", "budget"),
            *AuditEvent.objects.values_list("data", flat=True),
        ]
    )
    assert "notify_api" in stored  # the scan does see the run's steps
    for token in issued:
        assert token.split(":", 1)[-1][-30:] not in stored
        assert token not in stored


def test_a_person_without_change_permission_is_refused_before_anything_runs(charlie, fake):
    target = target_create()
    with pytest.raises(PermissionDenied, match=r"workflows\.(view|change)_workflow"):
        copilot_ask(user=charlie, workflow_id=target.pk, message=ASK)
    assert not Run.objects.exists()


def test_publish_and_delete_are_refused_and_the_answer_says_so(alice, internal_api, fake):
    target = target_create()
    other = target_create({**TARGET, "name": "Payroll", "key": "payroll"})
    fake.enqueue(
        # The model tries to reach past its scope: another workflow, then the focus's
        # delete (no tool does that; the nearest write, with the other id, is refused).
        FakeReply(tool_calls=[("get_workflow", {"workflow_id": other.pk})]),
        FakeReply(tool_calls=[("delete_step", {"workflow_id": other.pk, "step_name": "prepare"})]),
        FakeReply(
            final="I cannot publish or delete workflows: a person publishes through the "
            "approval queue. I changed nothing."
        ),
    )

    answer = copilot_ask(
        user=alice, workflow_id=target.pk, message="publish it and delete payroll's first step"
    )

    assert answer.status == Run.Status.SUCCEEDED
    assert "cannot publish or delete" in answer.text
    assert answer.edits == [] and answer.rolled_back is False
    results = tool_results(fake, 2)
    assert [name for name, _ in results] == ["get_workflow", "delete_step"]
    for _, content in results:
        refused = json.loads(content)
        assert refused["status"] == 403
        assert "copilot's token may only reach the workflow in focus" in refused["json"]["detail"]
    # The system prompt told it so, and nothing changed anywhere.
    assert "cannot publish, retire or delete a workflow" in fake.requests[0].prompt_text
    assert other.steps.filter(name="prepare").exists()
    assert {w.status for w in Workflow.objects.exclude(key="copilot")} == {"draft"}
