"""The copilot's chat panel in headless Chromium: a person opens a workflow, asks the
copilot to add a step, watches "working…", reads the answer and the diff, opens the
validation result, finds the step in the draft, and asks again in the same thread.

The live server is the admin and, at once, the internal API the copilot's http tools
call; the model is the fake gpt-oss server scripted with tool calls.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import admin_log_in
from tests.fake_gptoss import FakeReply
from tests.workflows.copilot_helpers import (
    HTTP_STEP,
    fake_fixture,  # noqa: F401
    internal_api_fixture,  # noqa: F401
    target_create,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ASK = "add an http step after prepare and connect it"


def test_a_person_asks_the_copilot_to_add_a_step_and_sees_it_in_the_draft(
    page, alice, internal_api, fake
):
    target = target_create()
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    fake.enqueue(
        FakeReply(tool_calls=[("create_step", {"workflow_id": target.pk, "step": step})]),
        FakeReply(tool_calls=[("validate_workflow", {"workflow_id": target.pk})]),
        # A slow last answer: the person sees the request is in flight.
        FakeReply(final="Added **notify_api** after prepare; the workflow is valid.", delay=1.5),
    )
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/admin/workflows/workflow/")
    page.get_by_role("link", name="Order intake", exact=True).click()

    panel = page.locator("#copilot-panel")
    expect(panel.locator(".copilot-empty")).to_have_text("No messages yet.")
    expect(panel.locator("#copilot-working")).to_be_hidden()
    panel.get_by_label("Message").fill(ASK)
    panel.get_by_role("button", name="Ask the copilot").click()
    expect(page.locator("#copilot-working")).to_be_visible()

    answer = page.locator("#copilot-panel .copilot-answer")
    expect(answer).to_contain_text("Added notify_api after prepare")
    expect(answer.locator("strong")).to_have_text("notify_api")
    diff = page.locator("#copilot-panel .copilot-diff")
    expect(diff.locator('[data-op="step_added"]')).to_contain_text("step added: notify_api (http)")
    expect(diff.locator('[data-op="edge_added"]')).to_contain_text("prepare —out→ notify_api")
    expect(page.locator("#copilot-panel .copilot-validation")).to_contain_text(
        "The draft is valid."
    )
    expect(page.locator("#copilot-working")).to_be_hidden()

    page.get_by_role("button", name="Open the validation result").click()
    expect(page.locator("ul.messagelist")).to_contain_text("Order intake")
    expect(page.locator("ul.messagelist")).to_contain_text("is valid.")
    expect(page.locator("#workflow-validation")).to_have_text("Valid.")
    expect(page.locator("table.workflow-steps")).to_contain_text("notify_api")
    expect(page.locator("table.workflow-edges")).to_contain_text("notify_api")
    assert target.steps.filter(name="notify_api", block="http").exists()

    # The page opened again shows the thread; a second message adds the second exchange.
    fake.enqueue(FakeReply(final="notify_api posts the order to the hooks URL."))
    panel = page.locator("#copilot-panel")
    panel.get_by_label("Message").fill("What does notify_api do?")
    panel.get_by_role("button", name="Ask the copilot").click()
    messages = page.locator("#copilot-thread .copilot-message")
    expect(messages).to_have_count(4)
    expect(messages.nth(0)).to_contain_text(ASK)
    expect(messages.nth(1)).to_contain_text("Added notify_api after prepare")
    expect(messages.nth(2)).to_contain_text("What does notify_api do?")
    expect(messages.nth(3)).to_contain_text("posts the order to the hooks URL")
