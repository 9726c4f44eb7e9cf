"""Publishing goes through governance: a new workflow or a new integration waits for a
person's decision; a routine new version is published at once and retires the one
before it. Retiring, refusals, permissions and a lost race."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from decisions.models import AuditEvent, Decision
from decisions.services import (
    DecisionPremiseFailed,
    decision_apply,
    decision_approve,
    decision_reject,
)
from tests.concurrency import run_together
from tests.workflows.factories import (
    approver,
    blocks_stand_in,
    document,
    http_step,
    set_step,
    workflow_published,
)
from workflows.errors import WorkflowInvalid, WorkflowStateError
from workflows.models import Step, Workflow
from workflows.selectors import publish_decision_pending
from workflows.services.definitions import (
    step_add,
    workflow_create,
    workflow_publish,
    workflow_retire,
    workflow_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


Status = Workflow.Status


def _actions(workflow: Workflow) -> list[str]:
    return list(
        AuditEvent.objects.filter(subject_id=str(workflow.pk), action__startswith="workflows.")
        .values_list("action", flat=True)
        .order_by("pk")
    )


def _approve(decision: Decision) -> Decision:
    decision_approve(decision_id=decision.pk, user=approver())
    return decision_apply(decision_id=decision.pk)


def _with_http(url: str, name: str = "Fetcher", **fields) -> dict:
    return document(
        name,
        steps=[set_step("greet"), http_step("fetch", url)],
        edges=[{"from": "greet", "port": "out", "to": "fetch"}],
        **fields,
    )


def test_a_new_workflow_waits_for_a_person(alice):
    workflow = workflow_create(document=document(), actor=alice)

    result = workflow_publish(workflow_id=workflow.pk, actor=alice)

    assert result.status == Status.PENDING_APPROVAL
    decision = publish_decision_pending(workflow=workflow)
    assert decision is not None
    assert (decision.kind, decision.action) == ("new_workflow", "workflows.workflow_publish")
    assert decision.action_args["workflow_id"] == workflow.pk
    assert decision.requested_by == alice
    assert "workflows.workflow_submitted" in _actions(workflow)

    # Asking again while it waits is the same request, not a second decision.
    workflow_publish(workflow_id=workflow.pk, actor=alice)
    assert Decision.objects.count() == 1


def test_an_approved_decision_publishes_it(alice):
    workflow = workflow_create(document=document(), actor=alice)
    workflow_publish(workflow_id=workflow.pk, actor=alice)

    decision = _approve(publish_decision_pending(workflow=workflow))

    assert decision.status == Decision.Status.APPLIED, decision.outcome
    workflow.refresh_from_db()
    assert workflow.status == Status.PUBLISHED and workflow.published_at is not None
    event = AuditEvent.objects.get(action="workflows.workflow_published")
    assert event.data["decision"] == decision.pk and event.actor == approver()


def test_a_version_changed_behind_the_decision_is_not_published(alice):
    workflow = workflow_create(document=document(), actor=alice)
    workflow_publish(workflow_id=workflow.pk, actor=alice)
    decision = publish_decision_pending(workflow=workflow)
    # A change that bypassed the services: the premise (same document) no longer holds.
    Step.objects.filter(workflow=workflow, name="greet").update(description="changed")

    with pytest.raises(DecisionPremiseFailed, match="changed since"):
        decision_approve(decision_id=decision.pk, user=approver())
    workflow.refresh_from_db()
    assert workflow.status == Status.PENDING_APPROVAL


def test_a_waiting_version_cannot_be_edited(alice):
    workflow = workflow_create(document=document(), actor=alice)
    workflow_publish(workflow_id=workflow.pk, actor=alice)

    with pytest.raises(WorkflowStateError, match="waiting for approval"):
        step_add(workflow_id=workflow.pk, step=set_step("bye"), actor=alice)


def test_after_a_rejection_the_version_becomes_a_draft_again_when_touched(alice):
    workflow = workflow_create(document=document(), actor=alice)
    workflow_publish(workflow_id=workflow.pk, actor=alice)
    first = publish_decision_pending(workflow=workflow)
    decision_reject(decision_id=first.pk, user=approver(), comment="not yet")
    # Decisions have no rejection hook: the version waits until someone touches it.
    workflow.refresh_from_db()
    assert workflow.status == Status.PENDING_APPROVAL

    edited = workflow_update(
        workflow_id=workflow.pk, document=document(description="better"), actor=alice
    )
    assert edited.pk == workflow.pk and edited.status == Status.DRAFT
    assert "workflows.workflow_publish_refused" in _actions(workflow)

    workflow_publish(workflow_id=workflow.pk, actor=alice)
    second = publish_decision_pending(workflow=workflow)
    assert second is not None and second.pk != first.pk


def test_a_rejected_version_may_be_asked_again_unchanged(alice):
    workflow = workflow_create(document=document(), actor=alice)
    workflow_publish(workflow_id=workflow.pk, actor=alice)
    decision_reject(decision_id=publish_decision_pending(workflow=workflow).pk, user=approver())

    workflow_publish(workflow_id=workflow.pk, actor=alice)

    assert publish_decision_pending(workflow=workflow) is not None
    assert Decision.objects.count() == 2


def test_a_new_version_without_new_hosts_is_published_at_once_and_retires_the_old(alice):
    v1 = workflow_published()
    v2 = step_add(workflow_id=v1.pk, step=set_step("bye", after="reply"), actor=alice)

    result = workflow_publish(workflow_id=v2.pk, actor=alice)

    assert result.status == Status.PUBLISHED
    v1.refresh_from_db()
    assert v1.status == Status.RETIRED
    assert Decision.objects.filter(status=Decision.Status.PENDING).count() == 0
    assert AuditEvent.objects.get(action="workflows.workflow_published", subject_id=str(v2.pk))
    retired = AuditEvent.objects.get(action="workflows.workflow_retired")
    assert retired.subject_id == str(v1.pk) and retired.data["replaced_by"] == v2.pk


def test_a_host_no_published_workflow_used_is_a_new_integration(alice):
    v1 = workflow_published(document("Fetcher"))
    v2 = workflow_update(
        workflow_id=v1.pk,
        document=_with_http("https://API.example.com/orders?q={{ input.question }}"),
        actor=alice,
    )

    workflow_publish(workflow_id=v2.pk, actor=alice)

    decision = publish_decision_pending(workflow=v2)
    assert decision is not None and decision.kind == "new_integration"
    assert "api.example.com" in decision.situation
    v1.refresh_from_db()
    assert v1.status == Status.PUBLISHED  # still, until the decision is approved

    _approve(decision)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.status, v2.status) == (Status.RETIRED, Status.PUBLISHED)


def test_a_host_a_published_workflow_already_uses_is_not_new(alice):
    workflow_published(_with_http("https://api.example.com/a", "Known"))
    v1 = workflow_published(document("Other"))
    v2 = workflow_update(
        workflow_id=v1.pk,
        document=_with_http("https://api.example.com/b", "Other"),
        actor=alice,
    )

    assert workflow_publish(workflow_id=v2.pk, actor=alice).status == Status.PUBLISHED


def test_a_url_whose_host_is_a_template_is_always_a_new_integration(alice):
    # Its host is whatever the input says: no person approved where it goes.
    workflow_published(_with_http("https://{{ input.question }}/a", "Known"))
    v1 = workflow_published(document("Other"))
    v2 = workflow_update(
        workflow_id=v1.pk,
        document=_with_http("https://{{ input.question }}/a", "Other"),
        actor=alice,
    )

    workflow_publish(workflow_id=v2.pk, actor=alice)

    decision = publish_decision_pending(workflow=v2)
    assert decision is not None and decision.kind == "new_integration"
    assert "fetch: https://{{ input.question }}/a" in decision.situation


def test_the_internal_api_of_system_workflows_is_not_an_integration(alice):
    v1 = workflow_published(document("Internal", is_system=True))
    v2 = workflow_update(
        workflow_id=v1.pk,
        document=_with_http(
            "{{ ctx.internal_base_url }}/api/v1/blocks", "Internal", is_system=True
        ),
        actor=alice,
    )

    assert workflow_publish(workflow_id=v2.pk, actor=alice).status == Status.PUBLISHED


def test_with_automatic_execution_off_every_publish_asks(alice, settings):
    v1 = workflow_published()
    settings.AUTO_EXECUTION_ENABLED = False
    v2 = step_add(workflow_id=v1.pk, step=set_step("bye", after="reply"), actor=alice)

    assert workflow_publish(workflow_id=v2.pk, actor=alice).status == Status.PENDING_APPROVAL


def test_only_a_draft_is_published(alice):
    v1 = workflow_published()

    with pytest.raises(WorkflowStateError, match="only a draft"):
        workflow_publish(workflow_id=v1.pk, actor=alice)
    workflow_retire(workflow_id=v1.pk, actor=alice)
    with pytest.raises(WorkflowStateError, match="only a draft"):
        workflow_publish(workflow_id=v1.pk, actor=alice)


def test_an_invalid_version_is_not_published(alice):
    workflow = workflow_create(document=document(), actor=alice)
    # Broken behind the services' back (say, by a bad data migration).
    Step.objects.filter(workflow=workflow, name="greet").update(name="Greet")

    with pytest.raises(WorkflowInvalid):
        workflow_publish(workflow_id=workflow.pk, actor=alice)
    workflow.refresh_from_db()
    assert workflow.status == Status.DRAFT and not Decision.objects.exists()


def test_retire_a_published_version(alice):
    v1 = workflow_published()

    assert workflow_retire(workflow_id=v1.pk, actor=alice).status == Status.RETIRED
    event = AuditEvent.objects.get(action="workflows.workflow_retired")
    assert event.actor == alice and event.data["from"] == "published"


def test_a_waiting_version_cannot_be_retired(alice):
    workflow = workflow_create(document=document(), actor=alice)
    workflow_publish(workflow_id=workflow.pk, actor=alice)

    with pytest.raises(WorkflowStateError, match="cannot become retired"):
        workflow_retire(workflow_id=workflow.pk, actor=alice)


def test_publishing_and_retiring_need_the_change_permission(alice, bob, charlie):
    workflow = workflow_create(document=document(), actor=alice)

    for person in (bob, charlie):
        with pytest.raises(PermissionDenied):
            workflow_publish(workflow_id=workflow.pk, actor=person)
        with pytest.raises(PermissionDenied):
            workflow_retire(workflow_id=workflow.pk, actor=person)
    workflow.refresh_from_db()
    assert workflow.status == Status.DRAFT and not Decision.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_versions_published_at_once_leave_one_published(alice):
    v1 = workflow_published()
    v2 = step_add(workflow_id=v1.pk, step=set_step("two", after="reply"), actor=None)
    # v3 comes from the published v1 too once v2 is not the open draft any more.
    Workflow.objects.filter(pk=v2.pk).update(status=Status.RETIRED)
    v3 = step_add(workflow_id=v1.pk, step=set_step("three", after="reply"), actor=None)
    Workflow.objects.filter(pk=v2.pk).update(status=Status.DRAFT)
    ids = [v2.pk, v3.pk]

    results, errors = run_together(
        lambda i: workflow_publish(workflow_id=ids[i], actor=None).status, 2
    )

    assert errors == [], errors
    assert results == [Status.PUBLISHED, Status.PUBLISHED]
    published = Workflow.objects.filter(key=v1.key, status=Status.PUBLISHED)
    assert published.count() == 1
    assert Workflow.objects.filter(key=v1.key, status=Status.RETIRED).count() == 2
