"""Test-running a draft in headless Chromium: a person opens the draft, clicks Test run,
sees the input schema's example, submits bad input and reads the problem, then a good
input and lands on the run's page, where the run has succeeded."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect

from tests.browser import admin_log_in
from tests.workflows.factories import blocks_stand_in, document
from workflows.models import Run
from workflows.services.definitions import workflow_create
from workflows.services.execution import step_run_execute

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = {
    "type": "object",
    "properties": {"question": {"type": "string", "minLength": 1}},
    "required": ["question"],
    "additionalProperties": False,
}


@pytest.fixture(autouse=True)
def _blocks():
    yield from blocks_stand_in()


@pytest.fixture(autouse=True)
def _worker_inline(monkeypatch):
    """Play the worker: a queued step runs in the server's thread once the request commits
    (the same service a django-q2 worker calls), so the run has ended when its page opens."""
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task",
        lambda func, pk, **kw: step_run_execute(step_run_id=pk),
    )


def test_a_person_test_runs_a_draft_and_reads_the_runs_status(page, alice):
    workflow = workflow_create(document=document("Support bot", input_schema=SCHEMA), actor=None)
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto(f"/admin/workflows/workflow/{workflow.pk}/change/")

    page.locator("#workflow-test-run").click()
    box = page.locator("#id_input")
    assert json.loads(box.input_value()) == {"question": "x"}  # the schema's example

    box.fill('{"question": "", "extra": 1}')
    page.locator("#workflow-run-submit").click()
    problems = page.locator("#run-problems")
    expect(problems).to_contain_text("question")
    expect(problems).to_contain_text("extra")
    assert not Run.objects.exists()

    page.locator("#id_input").fill('{"question": "Where is my order?"}')
    page.locator("#workflow-run-submit").click()

    run = Run.objects.get()
    expect(page).to_have_url(re.compile(rf"/admin/workflows/run/{run.pk}/change/$"))
    expect(page.locator(".field-status")).to_contain_text("Succeeded")
    expect(page.locator(".field-is_test")).to_be_visible()
    run.refresh_from_db()
    assert run.is_test and run.output == {"answer": "1"}
