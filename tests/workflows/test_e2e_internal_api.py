"""The internal API of system workflows, for real: a run's http step calls this
application's own REST API (pytest-django's ``live_server`` on loopback, set as
``BIZAGENT_INTERNAL_BASE_URL``) with the run's short-lived token, and the token is then
found nowhere: in no stored row of any table, in no log record, and it no longer
authenticates once the run has ended. A user workflow asking for the token is refused
when it is saved and, should one get past that, when it runs.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.apps import apps
from django.core import serializers

from decisions.models import AuditEvent, SheetRow
from tests.workflows.engine_blocks import run_drain, workflow_build
from tests.workflows.factories import workflow_published
from workflows.errors import WorkflowInvalid
from workflows.internal_token import PREFIX, internal_api_token_provide, internal_token_issue
from workflows.models import Run, StepRun, Workflow
from workflows.services.context import _PROVIDERS, context_provider_register
from workflows.services.definitions import workflow_create
from workflows.services.runs import run_start

pytestmark = pytest.mark.django_db(transaction=True)

BLOCKS_STEP: dict[str, Any] = {
    "name": "catalogue",
    "block": "http",
    "config": {
        "method": "GET",
        "url": "{{ ctx.internal_base_url }}/api/v1/blocks",
        "headers": {"Authorization": "Bearer {{ ctx.internal_api_token }}"},
        "query": {"limit": 100},
    },
}


def document(*, is_system: bool) -> dict[str, Any]:
    return {
        "name": "Catalogue reader",
        "key": "catalogue-reader" if is_system else "user-catalogue-reader",
        "is_system": is_system,
        "output": {"blocks": "{{ steps.catalogue.output.json.data }}"},
        "steps": [BLOCKS_STEP],
    }


@pytest.fixture
def internal_api(live_server: Any, settings: Any) -> str:
    settings.INTERNAL_BASE_URL = live_server.url
    return str(live_server.url)


@pytest.fixture
def issued() -> Iterator[list[str]]:
    """Every internal token the engine hands a run (the real provider, watched)."""
    tokens: list[str] = []
    saved = _PROVIDERS["ctx.internal_api_token"]

    def watched(ctx: Any) -> str | None:
        token = internal_api_token_provide(ctx)
        if token is not None:
            tokens.append(token)
        return token

    context_provider_register("ctx.internal_api_token", watched)
    yield tokens
    context_provider_register("ctx.internal_api_token", saved)


def stored_text() -> str:
    """Every row of every table, serialised: where a leaked secret would be."""
    return "\n".join(
        serializers.serialize("json", model._default_manager.all())
        for model in apps.get_models()
        if model._meta.managed and not model._meta.proxy
    )


def blocks_status(base: str, token: str) -> int:
    response = requests.get(
        f"{base}/api/v1/blocks", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    return response.status_code


def test_a_system_run_reads_the_api_and_its_token_is_nowhere_after(
    alice, internal_api, issued, caplog
):
    caplog.set_level(logging.DEBUG)
    workflow = workflow_published(document(is_system=True))

    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=alice))

    assert run.status == Run.Status.SUCCEEDED, run.error
    slugs = {block["slug"] for block in run.output["blocks"]}
    assert {"agent", "http", "rag-query", "subflow", "set-variables"} <= slugs
    step_run = run.step_runs.get()
    assert step_run.output["status"] == 200
    # What the step sent is recorded with the token masked, the rest as it was.
    assert step_run.input["headers"] == {"Authorization": "Bearer ***"}
    assert step_run.input["url"] == f"{internal_api}/api/v1/blocks"

    assert len(issued) == 1
    token = issued[0]
    secret_part = token.removeprefix(PREFIX)
    # In no stored row: the run, its step runs, audit events, Sheets rows, any table.
    named = [
        *Run.objects.values_list("input", "output", "vars", "error"),
        *StepRun.objects.values_list("input", "output", "error_message", "budget"),
        *AuditEvent.objects.values_list("data", flat=True),
        *SheetRow.objects.values_list("values", flat=True),
    ]
    assert AuditEvent.objects.filter(action="workflows.run_succeeded").exists()
    assert token not in repr(named)
    everything = stored_text()
    assert run.output["blocks"][0]["slug"] in everything  # the scan does see the run
    assert secret_part not in everything
    # In no log record, whatever the logger or thread (the live server's included).
    logged = "\n".join(f"{r.getMessage()} {r.__dict__!r}" for r in caplog.records)
    assert secret_part not in logged

    # The run is over: its token no longer opens the API, while a person's token would.
    assert blocks_status(internal_api, token) == 401


def test_a_user_workflow_asking_for_the_token_is_refused_at_save_time(alice):
    with pytest.raises(WorkflowInvalid) as refused:
        workflow_create(document=document(is_system=False), actor=alice)

    problems = refused.value.problems
    assert {(p["code"], p["path"]) for p in problems} == {
        ("UNRESOLVED_REF", "steps.0.config.url"),
        ("UNRESOLVED_REF", "steps.0.config.headers.Authorization"),
    }
    assert all("only for system workflows" in p["message"] for p in problems)
    assert not Workflow.objects.filter(key="user-catalogue-reader").exists()


def test_a_user_workflow_gets_no_token_at_run_time(alice, internal_api, issued):
    # Rows written past the validator (as an older version might have been).
    workflow = workflow_build(
        key="user-catalogue-reader", steps=[BLOCKS_STEP], output={"ok": "{{ steps.catalogue }}"}
    )

    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=alice))

    assert run.status == Run.Status.FAILED
    step_run = run.step_runs.get()
    # The token is not offered to a user run: its template does not resolve, and
    # nothing is sent.
    assert step_run.error_class == "template"
    assert "ctx has no 'internal_" in step_run.error_message
    assert issued == []


def test_a_user_workflow_cannot_send_a_stolen_token(alice, internal_api):
    # A valid token of an open system run, pasted into a user workflow's header.
    system = workflow_published(document(is_system=True))
    victim = run_start(workflow=system, input={}, triggered_by=alice)
    token = internal_token_issue(run_id=victim.pk, workflow_id=system.pk, ttl=600)
    assert blocks_status(internal_api, token) == 200  # it would open the API
    step = {
        "name": "catalogue",
        "block": "http",
        "config": {
            "url": f"{internal_api}/api/v1/blocks",
            "headers": {"Authorization": f"Bearer {token}"},
        },
    }
    workflow = workflow_build(key="thief", steps=[step])

    run = run_drain(run_start(workflow=workflow, input={}, triggered_by=alice))

    step_run = run.step_runs.get(step__name="catalogue")
    assert (step_run.status, step_run.error_class) == ("failed", "refused")
    assert "only system workflows may send the internal API token" in step_run.error_message
    # Even the pasted token is masked in what the step recorded.
    assert token.removeprefix(PREFIX) not in repr(step_run.input)
