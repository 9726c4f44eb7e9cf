"""The runs list leads with what a person needs: the workflow's name and version, what
started the run (person, schedule, goal, copilot), the status with its reason when it
failed, how long it took and what it cost, newest first."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.workflows.factories import RunFactory, WorkflowFactory
from workflows.models import Run, RunTrigger

pytestmark = pytest.mark.django_db


def _list(client) -> str:
    response = client.get(reverse("admin:workflows_run_changelist"))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_workflow_who_started_it_duration_and_cost(client, bob, alice):
    workflow = WorkflowFactory(name="Weekly sales mail", version=3)
    start = timezone.now() - dt.timedelta(minutes=5)
    RunFactory(
        workflow=workflow,
        trigger=RunTrigger.ADMIN,
        triggered_by=alice,
        started_at=start,
        finished_at=start + dt.timedelta(seconds=42),
        cost=Decimal("12.5000"),
    )
    client.force_login(bob)
    html = _list(client)
    assert ">Weekly sales mail v3</a></td>" in html
    assert '<td class="field-started_by">Admin, by alice</td>' in html
    assert '<td class="field-duration">42.0 s</td>' in html
    assert '<td class="field-cost_shown">12.5</td>' in html


@pytest.mark.parametrize(
    ("trigger", "subject", "words"),
    [
        (RunTrigger.SCHEDULE, "", "Schedule"),
        (RunTrigger.GOAL, "goal:7", "Goal (goal:7)"),
        (RunTrigger.COPILOT, "", "Copilot"),
    ],
)
def test_it_says_what_started_a_run(client, bob, trigger, subject, words):
    RunFactory(trigger=trigger, subject=subject)
    client.force_login(bob)
    assert f'<td class="field-started_by">{words}</td>' in _list(client)


def test_a_failed_run_shows_the_first_line_of_its_reason(client, bob):
    RunFactory(status=Run.Status.FAILED, error="The shop API refused the key\nTraceback …")
    RunFactory(status=Run.Status.SUCCEEDED, error="")
    client.force_login(bob)
    html = _list(client)
    assert '<td class="field-status_reason">Failed: The shop API refused the key</td>' in html
    assert '<td class="field-status_reason">Succeeded</td>' in html
    assert "Traceback" not in html


def test_the_newest_run_comes_first(client, bob):
    older = RunFactory(workflow=WorkflowFactory(name="Older flow"))
    RunFactory(workflow=WorkflowFactory(name="Newer flow"))
    Run.objects.filter(pk=older.pk).update(created_at=timezone.now() - dt.timedelta(days=1))
    client.force_login(bob)
    html = _list(client)
    assert html.index("Newer flow") < html.index("Older flow")
