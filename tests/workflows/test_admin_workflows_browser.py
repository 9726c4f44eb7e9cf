"""The workflow admin in headless Chromium: a person logs in, opens a workflow from the
list, sees its graph with its step names, publishes it and reads the outcome."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from decisions.models import Decision
from tests.browser import admin_log_in
from tests.workflows.factories import blocks_stand_in, document
from workflows.models import Workflow
from workflows.services.definitions import workflow_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


def test_a_person_opens_a_workflow_sees_its_graph_and_publishes_it(page, alice):
    workflow_create(document=document("Support bot"), actor=None)
    admin_log_in(page, "alice", "pw-alice-123")

    page.goto("/admin/workflows/workflow/")
    page.get_by_role("link", name="Support bot", exact=True).click()

    graph = page.locator("svg.workflow-graph")
    expect(graph).to_be_visible()
    expect(graph.locator('g.step[data-step="greet"]')).to_contain_text("greet")
    expect(graph.locator('g.step[data-step="reply"]')).to_contain_text("set-variables")

    page.locator("#workflow-publish").click()

    decision = Decision.objects.get()
    expect(page.locator("ul.messagelist")).to_contain_text(
        re.compile(rf"waiting for approval: decision #{decision.pk} decides")
    )
    expect(page.locator(".field-status")).to_contain_text("Waiting for approval")
    assert Workflow.objects.get().status == Workflow.Status.PENDING_APPROVAL


def test_a_person_validates_then_retires_a_draft(page, alice):
    workflow = workflow_create(document=document("Support bot"), actor=None)
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto(f"/admin/workflows/workflow/{workflow.pk}/change/")

    page.locator("#workflow-validate").click()
    expect(page.locator("ul.messagelist")).to_contain_text("is valid.")

    page.locator("#workflow-retire").click()
    expect(page.locator("ul.messagelist")).to_contain_text("is retired.")
    expect(page.locator(".field-status")).to_contain_text("Retired")
    assert Workflow.objects.get().status == Workflow.Status.RETIRED
