"""The workflow admin: the list, the read-only page with its graph, and the publish,
retire and validate buttons and actions (which call the services)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from decisions.models import Decision
from tests.workflows.factories import blocks_stand_in, document, set_step, workflow_published
from workflows.models import Step, Workflow
from workflows.services.definitions import step_add, workflow_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


LIST = reverse("admin:workflows_workflow_changelist")


def _change(workflow: Workflow) -> str:
    return reverse("admin:workflows_workflow_change", args=[workflow.pk])


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_list_shows_each_version(client, alice):
    workflow_published(document("Support bot"))
    workflow_create(document=document("Bookkeeping"), actor=None)
    client.force_login(alice)

    response = client.get(LIST)

    assert response.status_code == 200
    rows = {(w.key, w.version, w.status, w.steps_total) for w in response.context["cl"].result_list}
    assert rows == {("support-bot", 1, "published", 2), ("bookkeeping", 1, "draft", 2)}
    assert response.context["cl"].has_filters


def test_the_list_searches_and_filters(client, alice):
    workflow_published(document("Support bot"))
    workflow_create(document=document("Bookkeeping"), actor=None)
    client.force_login(alice)

    found = client.get(LIST, {"q": "bookkeep"}).context["cl"].result_list
    assert [w.key for w in found] == ["bookkeeping"]
    published = client.get(LIST, {"status__exact": "published"}).context["cl"].result_list
    assert [w.key for w in published] == ["support-bot"]


def test_the_page_shows_the_document_and_its_graph(client, alice):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(alice)

    response = client.get(_change(workflow))

    html = response.content.decode()
    assert response.status_code == 200
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="workflow-graph"' in html
    assert 'data-step="greet"' in html and 'data-step="reply"' in html
    assert '<table class="workflow-steps">' in html and "set-variables" in html
    assert "<td>greet</td><td>out</td><td>reply</td>" in html
    assert 'id="workflow-publish"' in html


def test_bob_sees_the_page_but_no_publish_button_and_cannot_publish(client, bob):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(bob)

    page = client.get(_change(workflow))
    assert page.status_code == 200 and 'id="workflow-publish"' not in page.content.decode()

    response = client.post(
        reverse("admin:workflows_workflow_publish", args=[workflow.pk]), follow=True
    )
    assert "not published" in _messages(response)[0]
    workflow.refresh_from_db()
    assert workflow.status == "draft" and not Decision.objects.exists()


def test_charlie_sees_nothing(client, charlie):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(charlie)

    assert client.get(LIST).status_code == 403
    assert client.get(_change(workflow)).status_code == 403
    response = client.post(reverse("admin:workflows_workflow_publish", args=[workflow.pk]))
    assert response.status_code == 403
    assert not Decision.objects.exists()


def test_publish_button_asks_a_person_for_a_new_workflow(client, alice):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(alice)

    response = client.post(
        reverse("admin:workflows_workflow_publish", args=[workflow.pk]), follow=True
    )

    decision = Decision.objects.get()
    assert _messages(response) == [
        f"Support bot v1 is waiting for approval: decision #{decision.pk} decides whether it "
        "is published."
    ]
    workflow.refresh_from_db()
    assert workflow.status == "pending_approval" and decision.requested_by == alice


def test_publish_button_publishes_a_routine_version_and_retire_retires_it(client, alice):
    v1 = workflow_published()
    v2 = step_add(workflow_id=v1.pk, step=set_step("bye", after="reply"), actor=None)
    client.force_login(alice)

    response = client.post(reverse("admin:workflows_workflow_publish", args=[v2.pk]), follow=True)
    assert _messages(response) == ["Support bot v2 is published."]

    response = client.post(reverse("admin:workflows_workflow_retire", args=[v2.pk]), follow=True)
    assert _messages(response) == ["Support bot v2 is retired."]
    v2.refresh_from_db()
    assert v2.status == "retired"


def test_a_get_never_publishes(client, alice):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(alice)

    assert (
        client.get(reverse("admin:workflows_workflow_publish", args=[workflow.pk])).status_code
        == 405
    )
    workflow.refresh_from_db()
    assert workflow.status == "draft"


def test_validate_says_what_is_wrong(client, alice):
    good = workflow_create(document=document(), actor=None)
    bad = workflow_create(document=document("Broken"), actor=None)
    Step.objects.filter(workflow=bad, name="greet").update(name="Greet")
    client.force_login(alice)

    ok = client.post(reverse("admin:workflows_workflow_validate", args=[good.pk]), follow=True)
    assert _messages(ok) == ["Support bot v1 is valid."]
    response = client.post(
        LIST,
        {"action": "validate_selected", "_selected_action": [bad.pk]},
        follow=True,
    )
    [message] = _messages(response)
    assert message.startswith("Broken v1 is not valid: ") and "BAD_NAME" in message


def test_the_publish_action_on_the_list(client, alice):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(alice)

    client.post(LIST, {"action": "publish_selected", "_selected_action": [workflow.pk]})

    workflow.refresh_from_db()
    assert workflow.status == "pending_approval"


def test_nobody_adds_changes_or_deletes_rows_here(client, alice):
    workflow = workflow_create(document=document(), actor=None)
    client.force_login(alice)

    assert client.get(reverse("admin:workflows_workflow_add")).status_code == 403
    assert client.post(_change(workflow), {"name": "Renamed"}).status_code == 403
    assert (
        client.get(reverse("admin:workflows_workflow_delete", args=[workflow.pk])).status_code
        == 403
    )
    workflow.refresh_from_db()
    assert workflow.name == "Support bot"
