"""The copilot's chat panel on a workflow's admin page (``workflows.admin_copilot``).

Over the test client as htmx posts it, against the live API (the copilot's own tool
calls) and the fake gpt-oss server scripted with tool calls: who sees the panel, CSRF,
the answer with its diff and validation link, the thread, escaping, and every failure
shown in the panel with its reason.
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from tests.fake_gptoss import FakeReply
from tests.workflows.copilot_helpers import (
    HTTP_STEP,
    TARGET,
    fake_fixture,  # noqa: F401
    internal_api_fixture,  # noqa: F401
    target_create,
)
from workflows.admin_copilot import step_changes
from workflows.models import Run, Workflow

pytestmark = pytest.mark.django_db(transaction=True)

ASK = "add an http step after prepare and connect it"
HTMX = {"HTTP_HX_REQUEST": "true"}


def panel_url(workflow: Workflow) -> str:
    return reverse("admin:workflows_workflow_copilot", args=[workflow.pk])


def change_url(workflow: Workflow) -> str:
    return reverse("admin:workflows_workflow_change", args=[workflow.pk])


def logged_in(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def add_step_replies(workflow_id: int, final: str) -> list[FakeReply]:
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    return [
        FakeReply(tool_calls=[("create_step", {"workflow_id": workflow_id, "step": step})]),
        FakeReply(tool_calls=[("validate_workflow", {"workflow_id": workflow_id})]),
        FakeReply(final=final),
    ]


def test_only_people_who_may_change_workflows_see_and_use_the_panel(alice, bob, fake):
    target = target_create()

    page = logged_in(alice).get(change_url(target)).content.decode()
    assert 'id="copilot-panel"' in page
    assert f'hx-post="{panel_url(target)}"' in page

    # bob may only view workflows: no panel, and posting is refused before anything runs.
    viewer = logged_in(bob)
    assert 'id="copilot-panel"' not in viewer.get(change_url(target)).content.decode()
    assert viewer.post(panel_url(target), {"message": ASK}, **HTMX).status_code == 403
    assert not Run.objects.exists()
    assert fake.requests == []


def test_the_panel_is_not_offered_on_a_system_workflow(alice, fake):
    system = target_create({**TARGET, "key": "sys-thing", "name": "Sys"})
    Workflow.objects.filter(pk=system.pk).update(is_system=True)

    client = logged_in(alice)
    assert 'id="copilot-panel"' not in client.get(change_url(system)).content.decode()
    assert client.post(panel_url(system), {"message": ASK}, **HTMX).status_code == 403


def test_a_post_without_the_csrf_token_is_refused(alice, fake):
    target = target_create()
    response = logged_in(alice, csrf=True).post(panel_url(target), {"message": ASK}, **HTMX)
    assert response.status_code == 403
    assert not Run.objects.exists()


def test_asking_shows_the_answer_the_diff_and_the_validation_link(alice, internal_api, fake):
    target = target_create()
    fake.enqueue(*add_step_replies(target.pk, "Added **notify_api** after `prepare`."))

    response = logged_in(alice).post(panel_url(target), {"message": ASK}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>notify_api</strong>" in html and "<code>prepare</code>" in html
    ops = re.findall(r'data-op="(\w+)"', html)
    assert ops == ["step_added", "edge_added"]
    assert "notify_api (http)" in html
    assert "prepare —out→ notify_api" in html
    assert "https://hooks.example.com/orders" in html  # the new step's config, listed
    assert "The draft is valid." in html
    validate = reverse("admin:workflows_workflow_validate", args=[target.pk])
    assert f'action="{validate}" class="copilot-validate"' in html
    # The thread holds the exchange, in order.
    thread = html[html.index('id="copilot-thread"') : html.index("</ol>")]
    assert thread.index(ASK) < thread.index("Added")
    # The draft really has the step, and its page shows the validation section.
    assert target.steps.filter(name="notify_api", block="http").exists()
    page = logged_in(alice).get(change_url(target)).content.decode()
    assert '<p id="workflow-validation" class="workflow-valid">Valid.</p>' in page


def test_a_changed_step_is_listed_with_its_config_before_and_after(alice, internal_api, fake):
    document = {
        **TARGET,
        "steps": [*TARGET["steps"], HTTP_STEP],
        "edges": [{"from": "prepare", "to": "notify_api"}],
    }
    target = target_create(document)
    changed = {
        **HTTP_STEP,
        "config": {**HTTP_STEP["config"], "url": "https://hooks.example.com/v2"},
    }
    fake.enqueue(
        FakeReply(
            tool_calls=[
                (
                    "update_step",
                    {"workflow_id": target.pk, "step_name": "notify_api", "step": changed},
                )
            ]
        ),
        FakeReply(final="Pointed notify_api at v2."),
    )

    html = logged_in(alice).post(panel_url(target), {"message": "use v2"}, **HTMX).content.decode()

    assert re.findall(r'data-op="(\w+)"', html) == ["step_updated"]
    assert (
        "<code>config.url</code>:\n"
        "                      <del>&quot;https://hooks.example.com/orders&quot;</del> → "
        "<ins>&quot;https://hooks.example.com/v2&quot;</ins>"
    ) in html


def test_step_changes_lists_only_the_fields_that_differ():
    before = {"name": "a", "block": "http", "config": {"url": "x", "method": "GET"}}
    after = {"name": "a", "block": "http", "config": {"url": "y", "method": "GET", "n": 1}}
    assert step_changes(before, after) == [
        {"field": "config.n", "before": "-", "after": "1"},
        {"field": "config.url", "before": '"x"', "after": '"y"'},
    ]


def test_the_second_message_shows_both_exchanges(alice, internal_api, fake):
    target = target_create()
    client = logged_in(alice)
    fake.enqueue(FakeReply(final="It has one step, prepare."))
    client.post(panel_url(target), {"message": "What does it do?"}, **HTMX)
    fake.enqueue(FakeReply(final="Yes, only prepare."))

    html = client.post(panel_url(target), {"message": "Only that one?"}, **HTMX).content.decode()

    thread = html[html.index('id="copilot-thread"') : html.index("</ol>")]
    said = ["What does it do?", "It has one step, prepare.", "Only that one?", "Yes, only prepare."]
    positions = [thread.index(text) for text in said]
    assert positions == sorted(positions)
    # The copilot saw the first exchange: the panel keeps one thread.
    assert "What does it do?" in fake.requests[1].prompt_text
    # And the page shows the thread when opened again.
    page = client.get(change_url(target)).content.decode()
    assert "Yes, only prepare." in page


def test_model_text_is_escaped_and_rendered_without_raw_html(alice, internal_api, fake):
    target = target_create()
    fake.enqueue(
        FakeReply(
            final="<script>alert(1)</script> **ok** [x](javascript:alert(2)) "
            "![i](https://tracker.example.com/p.png)"
        )
    )

    said = "<b>hi</b>\nthere"
    html = logged_in(alice).post(panel_url(target), {"message": said}, **HTMX).content.decode()

    assert "&lt;b&gt;hi&lt;/b&gt;<br>there" in html  # the person's text: escaped, lines kept
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<strong>ok</strong>" in html
    assert 'href="javascript:' not in html
    assert "<img" not in html  # an answer cannot make the browser fetch anything


def test_a_model_that_is_down_shows_the_reason_not_a_500(alice, internal_api, fake):
    target = target_create()
    fake.enqueue(*[FakeReply(failure="unreachable") for _ in range(6)])

    response = logged_in(alice).post(panel_url(target), {"message": ASK}, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    run = Run.objects.get()
    assert f"The copilot did not finish (run #{run.pk} failed)" in html
    assert reverse("admin:workflows_run_change", args=[run.pk]) in html
    assert 'class="copilot-answer"' not in html


def test_a_spent_budget_shows_the_reason_and_undoes_the_edits(alice, internal_api, fake):
    target = target_create()
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    # The agent keeps calling tools past its max_iterations (12): its budget ends the run.
    fake.enqueue(
        FakeReply(tool_calls=[("create_step", {"workflow_id": target.pk, "step": step})]),
        *[FakeReply(tool_calls=[("get_block_schema", {"slug": f"b{i}"})]) for i in range(12)],
    )

    html = logged_in(alice).post(panel_url(target), {"message": ASK}, **HTMX).content.decode()

    assert "The copilot did not finish" in html and "undone" in html
    assert 'data-op="' not in html  # no edits claimed
    assert not target.steps.filter(name="notify_api").exists()


def test_bad_input_and_a_refused_request_show_the_reason(alice, fake):
    target = target_create()
    client = logged_in(alice)

    empty = client.post(panel_url(target), {"message": "   "}, **HTMX)
    assert empty.status_code == 200
    assert "Message: This field is required." in empty.content.decode()

    too_long = client.post(panel_url(target), {"message": "x" * 4001}, **HTMX)
    assert "at most 4000 characters" in too_long.content.decode()
    assert not Run.objects.exists()


def test_a_plain_post_without_javascript_comes_back_to_the_page(alice, internal_api, fake):
    target = target_create()
    fake.enqueue(FakeReply(final="Hello."))

    response = logged_in(alice).post(panel_url(target), {"message": "hi"})

    assert response.status_code == 302
    assert response["Location"] == change_url(target) + "#copilot-panel"
