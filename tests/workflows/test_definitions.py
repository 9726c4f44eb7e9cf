"""Definition services: documents become rows (and back), drafts change in place,
published versions never change (an edit makes the next draft), every write is
validated whole, atomic, audited and race-safe."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection

from decisions.models import AuditEvent
from tests.concurrency import run_together
from tests.workflows.factories import (
    RunFactory,
    blocks_stand_in,
    document,
    set_step,
    workflow_published,
)
from workflows.errors import WorkflowInvalid, WorkflowStateError
from workflows.models import Edge, Step, Workflow
from workflows.selectors import workflow_document
from workflows.services.definitions import (
    edge_add,
    edge_delete,
    step_add,
    step_delete,
    step_update,
    workflow_create,
    workflow_delete,
    workflow_update,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


def _counts() -> tuple[int, int, int, int]:
    return (
        Workflow.objects.count(),
        Step.objects.count(),
        Edge.objects.count(),
        AuditEvent.objects.count(),
    )


def _audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def test_it_creates_a_draft_from_a_document(alice):
    workflow = workflow_create(document=document(), actor=alice)

    assert (workflow.key, workflow.version, workflow.status) == ("support-bot", 1, "draft")
    assert workflow.created_by == alice
    steps = list(workflow.steps.order_by("position"))
    assert [(s.name, s.block, s.position) for s in steps] == [
        ("greet", "set-variables", 0),
        ("reply", "set-variables", 1),
    ]
    edge = workflow.edges.get()
    assert (edge.source_id, edge.port, edge.target_id) == (steps[0].pk, "out", steps[1].pk)
    [event] = _audit("workflows.workflow_created")
    assert event.actor == alice and event.subject_id == str(workflow.pk)
    assert event.data["key"] == "support-bot"


def test_the_document_comes_back_as_it_went_in(alice):
    doc = document(key="helpdesk", is_system=True, timeout_seconds=120)
    workflow = workflow_create(document=doc, actor=alice)

    back = workflow_document(workflow=workflow)
    assert back["key"] == "helpdesk" and back["is_system"] is True
    assert back["timeout_seconds"] == 120 and back["output"] == doc["output"]
    assert [s["name"] for s in back["steps"]] == ["greet", "reply"]
    assert back["steps"][0]["config"] == doc["steps"][0]["config"]
    assert back["edges"] == [{"from": "greet", "port": "out", "to": "reply"}]


def test_keys_from_the_same_name_stay_unique(alice):
    first = workflow_create(document=document("Support bot"), actor=alice)
    second = workflow_create(document=document("Support  Bot!"), actor=alice)

    assert (first.key, second.key) == ("support-bot", "support-bot-2")


def test_a_given_key_that_is_taken_is_refused_and_nothing_saved(alice):
    workflow_create(document=document(key="helpdesk"), actor=alice)
    before = _counts()

    with pytest.raises(WorkflowInvalid) as caught:
        workflow_create(document=document("Other", key="helpdesk"), actor=alice)

    assert [p["code"] for p in caught.value.problems] == ["KEY_TAKEN"]
    assert _counts() == before


def test_an_invalid_document_reports_every_problem_and_saves_nothing(alice):
    bad = document(
        steps=[set_step("Greet"), set_step("reply")],
        edges=[{"from": "reply", "port": "out", "to": "nowhere"}],
    )

    with pytest.raises(WorkflowInvalid) as caught:
        workflow_create(document=bad, actor=alice)

    codes = {p["code"] for p in caught.value.problems}
    assert {"BAD_NAME", "UNKNOWN_STEP"} <= codes
    assert _counts() == (0, 0, 0, 0)


def test_a_draft_changes_in_place_and_unchanged_steps_keep_their_ids(alice):
    workflow = workflow_create(document=document(), actor=alice)
    greet_id = workflow.steps.get(name="greet").pk
    doc = workflow_document(workflow=workflow)
    doc["steps"].append(set_step("bye"))
    doc["edges"].append({"from": "reply", "port": "out", "to": "bye"})

    updated = workflow_update(workflow_id=workflow.pk, document=doc, actor=alice)

    assert updated.pk == workflow.pk and updated.version == 1
    assert workflow.steps.get(name="greet").pk == greet_id
    assert sorted(workflow.steps.values_list("name", flat=True)) == ["bye", "greet", "reply"]
    assert workflow.edges.count() == 2
    [event] = _audit("workflows.workflow_updated")
    assert event.data["change"] == "document"


def test_a_published_version_never_changes_an_edit_makes_the_next_draft(alice):
    published = workflow_published()
    before = workflow_document(workflow=published)
    doc = document(description="Now more polite.")

    draft = workflow_update(workflow_id=published.pk, document=doc, actor=alice)

    assert draft.pk != published.pk
    assert (draft.key, draft.version, draft.status) == (published.key, 2, "draft")
    assert draft.description == "Now more polite."
    published.refresh_from_db()
    assert published.status == "published"
    assert workflow_document(workflow=published) == before
    assert _audit("workflows.workflow_versioned")[0].data["from"] == published.pk

    # A second edit of the published version goes to the same open draft.
    again = step_add(workflow_id=published.pk, step=set_step("bye", after="reply"), actor=alice)
    assert again.pk == draft.pk
    assert Workflow.objects.filter(key=published.key).count() == 2


def test_a_failed_edit_of_a_published_version_leaves_no_draft(alice):
    published = workflow_published()
    before = _counts()

    with pytest.raises(WorkflowInvalid):
        step_add(workflow_id=published.pk, step=set_step("Bad Name"), actor=alice)

    assert _counts() == before


def test_step_add_update_delete(alice):
    workflow = workflow_create(document=document(), actor=alice)

    step_add(workflow_id=workflow.pk, step=set_step("bye", "ciao", after="reply"), actor=alice)
    assert workflow.steps.get(name="bye").config["variables"][0]["value"] == "ciao"
    edge = workflow.edges.get(target__name="bye")
    assert edge.source.name == "reply"
    bye_id = edge.target_id

    # A rename keeps the step's id, so the edge into it survives unchanged.
    step_update(workflow_id=workflow.pk, step_name="bye", step=set_step("farewell"), actor=alice)
    farewell = workflow.steps.get(name="farewell")
    assert farewell.pk == bye_id
    assert Edge.objects.get(pk=edge.pk).target_id == bye_id

    step_delete(workflow_id=workflow.pk, step_name="farewell", actor=alice)
    assert not workflow.steps.filter(name="farewell").exists()
    assert not Edge.objects.filter(pk=edge.pk).exists()
    changes = [e.data["change"] for e in _audit("workflows.workflow_updated")]
    assert changes == ["step_added", "step_updated", "step_deleted"]


def test_a_step_left_unconnected_is_refused(alice):
    workflow = workflow_create(document=document(), actor=alice)

    with pytest.raises(WorkflowInvalid) as caught:
        step_add(workflow_id=workflow.pk, step=set_step("bye"), actor=alice)

    assert [p["code"] for p in caught.value.problems] == ["START"]
    assert not workflow.steps.filter(name="bye").exists()


def test_an_unknown_step_is_said_so(alice):
    workflow = workflow_create(document=document(), actor=alice)

    with pytest.raises(Step.DoesNotExist):
        step_update(workflow_id=workflow.pk, step_name="ghost", step=set_step("x"), actor=alice)


def _diamond() -> dict:
    """greet → reply → bye, and greet → bye: removing the shortcut leaves it valid."""
    return document(
        steps=[set_step("greet"), set_step("reply"), set_step("bye")],
        edges=[
            {"from": "greet", "port": "out", "to": "reply"},
            {"from": "reply", "port": "out", "to": "bye"},
        ],
    )


def test_edges_are_added_once_and_deleted_by_id(alice):
    workflow = workflow_create(document=_diamond(), actor=alice)
    edge = edge_add(workflow_id=workflow.pk, edge={"from": "greet", "to": "bye"}, actor=alice)
    assert (edge.source.name, edge.port, edge.target.name) == ("greet", "out", "bye")

    with pytest.raises(WorkflowInvalid) as caught:
        edge_add(workflow_id=workflow.pk, edge={"from": "greet", "to": "bye"}, actor=alice)
    assert [p["code"] for p in caught.value.problems] == ["DUPLICATE_EDGE"]

    edge_delete(workflow_id=workflow.pk, edge_id=edge.pk, actor=alice)
    assert workflow.edges.count() == 2
    with pytest.raises(Edge.DoesNotExist):
        edge_delete(workflow_id=workflow.pk, edge_id=edge.pk, actor=alice)


def test_deleting_an_edge_of_a_published_version_removes_it_from_the_draft(alice):
    published = workflow_published(
        {**_diamond(), "edges": [*_diamond()["edges"], {"from": "greet", "to": "bye"}]}
    )
    edge = published.edges.get(source__name="greet", target__name="bye")

    draft = edge_delete(workflow_id=published.pk, edge_id=edge.pk, actor=alice)

    assert draft.version == 2 and draft.edges.count() == 2
    assert not draft.edges.filter(source__name="greet", target__name="bye").exists()
    assert Edge.objects.filter(pk=edge.pk).exists()


def test_a_draft_is_deleted_and_audited(alice):
    workflow = workflow_create(document=document(), actor=alice)

    workflow_delete(workflow_id=workflow.pk, actor=alice)

    assert not Workflow.objects.exists() and not Step.objects.exists()
    [event] = _audit("workflows.workflow_deleted")
    assert event.data["key"] == "support-bot" and event.actor == alice


def test_a_published_version_is_not_deleted(alice):
    published = workflow_published()

    with pytest.raises(WorkflowStateError, match="retire it"):
        workflow_delete(workflow_id=published.pk, actor=alice)
    assert Workflow.objects.filter(pk=published.pk).exists()


def test_a_draft_with_runs_is_not_deleted(alice):
    workflow = workflow_create(document=document(), actor=alice)
    RunFactory(workflow=workflow, is_test=True)

    with pytest.raises(WorkflowStateError, match="has runs"):
        workflow_delete(workflow_id=workflow.pk, actor=alice)


def test_people_without_the_permission_change_nothing(alice, bob, charlie):
    workflow = workflow_create(document=document(), actor=alice)
    before = _counts()

    for person in (bob, charlie):
        with pytest.raises(PermissionDenied):
            workflow_create(document=document("Other"), actor=person)
        with pytest.raises(PermissionDenied):
            step_add(workflow_id=workflow.pk, step=set_step("bye"), actor=person)
        with pytest.raises(PermissionDenied):
            workflow_delete(workflow_id=workflow.pk, actor=person)
    assert _counts() == before


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_step_adds_both_land(alice):
    workflow = workflow_create(document=document(), actor=None)

    def add(i: int) -> str:
        return step_add(
            workflow_id=workflow.pk, step=set_step(f"extra_{i}", after="reply"), actor=None
        ).key

    results, errors = run_together(add, 2)

    assert errors == [], errors
    assert len(results) == 2
    names = set(workflow.steps.values_list("name", flat=True))
    assert {"extra_0", "extra_1"} <= names, connection.vendor
    assert len(_audit("workflows.workflow_updated")) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_edits_of_a_published_version_make_one_draft(alice):
    published = workflow_published()

    def add(i: int) -> int:
        return step_add(
            workflow_id=published.pk, step=set_step(f"extra_{i}", after="reply"), actor=None
        ).pk

    results, errors = run_together(add, 2)

    assert errors == [], errors
    assert len(set(results)) == 1
    draft = Workflow.objects.get(pk=results[0])
    assert {"extra_0", "extra_1"} <= set(draft.steps.values_list("name", flat=True))
    assert Workflow.objects.filter(key=published.key).count() == 2
