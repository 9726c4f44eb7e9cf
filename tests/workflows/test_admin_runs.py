"""The runs admin: list, a step timeline with tool calls, cancel and retry-step
(services called, permissions checked), and a browser click-through of a retry."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from decisions.models import AuditEvent
from tests.browser import admin_log_in
from tests.workflows.engine_blocks import ATTEMPTS, run_drain, workflow_build
from workflows.models import Run, StepRun
from workflows.services.runs import run_start


@pytest.fixture(autouse=True)
def _clean():
    ATTEMPTS.clear()


def failed_run():
    workflow = workflow_build(
        key="flaky",
        steps=[
            {
                "name": "agent",
                "block": "test-tools",
                "config": {"calls": [{"name": "shout", "args": {"text": "hi"}}]},
            },
            {
                "name": "shout",
                "block": "test-echo",
                "tool_only": True,
                "config": {"value": "{{ input.text }}!"},
            },
            {"name": "bad", "block": "test-fail", "config": {"times": 1, "error": "refused"}},
        ],
        edges=[("agent", "out", "bad")],
    )
    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=None))
    assert run.status == Run.Status.FAILED
    return run


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task", lambda func, pk, **kw: sent.append(pk)
    )
    return sent


@pytest.mark.django_db
def test_the_list_shows_workflow_status_trigger_and_tokens(client, alice):
    run = failed_run()
    client.force_login(alice)
    page = client.get(reverse("admin:workflows_run_changelist")).content.decode()
    assert "flaky v1" in page and "failed" in page.lower() and "API" in page
    assert reverse("admin:workflows_run_change", args=[run.pk]) in page


@pytest.mark.django_db
def test_the_detail_shows_the_timeline_with_tool_calls(client, alice):
    run = failed_run()
    client.force_login(alice)
    page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    assert 'id="step-timeline"' in page
    child = StepRun.objects.get(parent__isnull=False)
    assert f'id="step-run-{child.pk}" data-depth="1"' in page
    assert "refused" in page and "failure 1 of bad" in page
    bad = run.step_runs.get(step__name="bad")
    assert reverse("admin:workflows_run_retry_step", args=[run.pk, bad.pk]) in page


@pytest.mark.django_db
def test_bob_sees_no_actions_and_may_not_post_them(client, bob):
    run = failed_run()
    bad = run.step_runs.get(step__name="bad")
    client.force_login(bob)
    page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    assert "Retry step" not in page
    response = client.post(reverse("admin:workflows_run_retry_step", args=[run.pk, bad.pk]))
    assert response.status_code == 403
    bad.refresh_from_db()
    assert bad.status == StepRun.Status.FAILED


@pytest.mark.django_db
def test_charlie_cannot_see_runs(client, charlie):
    run = failed_run()
    client.force_login(charlie)
    response = client.get(reverse("admin:workflows_run_change", args=[run.pk]))
    assert response.status_code in (302, 403)


@pytest.mark.django_db
def test_retry_step_calls_the_service(client, alice, enqueued):
    run = failed_run()
    bad = run.step_runs.get(step__name="bad")
    client.force_login(alice)
    response = client.post(
        reverse("admin:workflows_run_retry_step", args=[run.pk, bad.pk]), follow=True
    )
    assert "Step bad is queued again." in response.content.decode()
    bad.refresh_from_db()
    assert bad.status == StepRun.Status.PENDING
    assert AuditEvent.objects.get(action="workflows.step_retried").actor == alice


@pytest.mark.django_db
def test_cancel_calls_the_service(client, alice):
    workflow = workflow_build(steps=[{"name": "a", "block": "test-echo", "config": {"value": 1}}])
    run = run_start(workflow=workflow, input={}, triggered_by=alice)
    client.force_login(alice)
    page = client.get(reverse("admin:workflows_run_change", args=[run.pk])).content.decode()
    assert 'id="run-cancel"' in page
    client.post(reverse("admin:workflows_run_cancel", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
    assert AuditEvent.objects.get(action="workflows.run_cancelled").actor == alice


@pytest.mark.django_db
def test_the_cancel_action_on_the_list(client, alice, bob):
    workflow = workflow_build(steps=[{"name": "a", "block": "test-echo", "config": {"value": 1}}])
    run = run_start(workflow=workflow, input={}, triggered_by=alice)
    url = reverse("admin:workflows_run_changelist")
    client.force_login(bob)
    client.post(url, {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == Run.Status.QUEUED  # bob may not change runs
    client.force_login(alice)
    client.post(url, {"action": "cancel_runs", "_selected_action": [run.pk]})
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_retries_a_failed_step_in_the_browser(page, alice, enqueued):
    run = failed_run()
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/admin/workflows/run/")
    page.locator("#result_list").get_by_role("link", name=str(run.pk), exact=True).click()
    expect(page).to_have_url(re.compile(rf"/admin/workflows/run/{run.pk}/change/$"))
    bad = run.step_runs.get(step__name="bad")
    row = page.locator(f"#step-run-{bad.pk}")
    expect(row.locator(".step-status")).to_have_text("Failed")
    row.get_by_role("button", name="Retry step").click()
    expect(page.locator(".messagelist")).to_contain_text("Step bad is queued again.")
    expect(page.locator(f"#step-run-{bad.pk} .step-status")).to_have_text("Pending")
    assert enqueued[-1] == bad.pk  # (the first entry: the run's own start)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_cancels_a_queued_run_in_the_browser(page, alice):
    workflow = workflow_build(steps=[{"name": "a", "block": "test-echo", "config": {"value": 1}}])
    run = run_start(workflow=workflow, input={}, triggered_by=alice)
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto(f"/admin/workflows/run/{run.pk}/change/")
    page.locator("#run-cancel").click()
    expect(page.locator(".messagelist")).to_contain_text("cancel")
    run.refresh_from_db()
    assert run.status == Run.Status.CANCELLED
