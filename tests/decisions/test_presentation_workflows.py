"""The decisions workflows asks for, in business terms (``workflows.presenters``).

Requested through the real services: publishing a new workflow, and a run whose http
step (against a loopback API) would send to 500 people or delete 100 records.
"""

from __future__ import annotations

import pytest

from decisions.models import Decision
from decisions.presentation import decision_present
from tests.personas import persona_create
from tests.workflows.engine_blocks import run_drain
from tests.workflows.factories import blocks_stand_in, document
from tests.workflows.loopback_http import loopback_server  # noqa: F401 - fixture
from tests.workflows.test_run_governance import mailing, recipients
from workflows.selectors import publish_decision_pending
from workflows.services.definitions import workflow_create, workflow_publish
from workflows.services.governance import STEP_APPROVE_ACTION
from workflows.services.runs import run_start

pytestmark = pytest.mark.django_db


@pytest.fixture
def wf_alice():
    return persona_create("alice", app="workflows")


@pytest.fixture
def _blocks():
    yield from blocks_stand_in()


@pytest.fixture
def _loopback_allowed(settings):
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.AUTO_EXECUTION_ENABLED = True


def test_publishing_a_new_workflow_says_it_is_new_and_what_it_is_made_of(wf_alice, _blocks):
    workflow = workflow_create(document=document("Cold outreach"), actor=wf_alice)
    workflow_publish(workflow_id=workflow.pk, actor=wf_alice)
    decision = publish_decision_pending(workflow=workflow)

    shown = decision_present(decision=decision)

    assert shown.summary == (
        "Publish the workflow “Cold outreach” (new): runs, schedules and goals may use it at once"
    )
    evidence = dict(shown.evidence)
    assert evidence["Workflow"] == "Cold outreach"
    assert evidence["First version ever published"] == "Yes"
    assert evidence["Calls a new service"] == "No"
    assert evidence["Steps"] == "greet (set-variables), reply (set-variables)"
    assert dict(shown.technical)["Action"] == "workflows.workflow_publish"


def _waiting(server, alice, n: int, **step) -> Decision:
    run = run_start(workflow=mailing(server, **step), input=recipients(n), triggered_by=alice)
    run_drain(run)
    return Decision.objects.get(action=STEP_APPROVE_ACTION)


def test_a_mass_send_says_how_many_people_get_it(
    loopback_server,  # noqa: F811
    wf_alice,
    _loopback_allowed,
    monkeypatch,
):
    monkeypatch.setattr("workflows.services.enqueue.async_task", lambda func, pk, **kw: None)
    decision = _waiting(loopback_server, wf_alice, 500)

    shown = decision_present(decision=decision)

    workflow = decision.subject.run.workflow
    assert shown.summary == (f"Send to 500 people: step “notify” of the workflow “{workflow.name}”")
    evidence = dict(shown.evidence)
    assert evidence["Recipients"] == "500"
    assert evidence["Step"] == "notify" and evidence["Test run"] == "No"


def test_a_mass_deletion_says_how_many_records_go(
    loopback_server,  # noqa: F811
    wf_alice,
    _loopback_allowed,
    monkeypatch,
):
    monkeypatch.setattr("workflows.services.enqueue.async_task", lambda func, pk, **kw: None)
    decision = _waiting(loopback_server, wf_alice, 100, kind="delete")

    shown = decision_present(decision=decision)

    assert shown.summary.startswith("Delete 100 records: step “notify”")
    assert dict(shown.evidence)["Records deleted"] == "100"
