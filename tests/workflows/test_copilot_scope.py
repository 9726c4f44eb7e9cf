"""The copilot's token scope, enforced centrally in the API's auth layer.

A copilot run's token names the workflow in focus (a signed claim). Over HTTP against
the live API it reaches the allow-listed editing endpoints of that workflow's versions
only: every other endpoint (delete a workflow, start or cancel runs, goals) and every
other workflow answers 403, while an unscoped system token of the same person is let
through to the same endpoints, so the refusal is the scope's doing.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.workflows.copilot_helpers import (
    HTTP_STEP,
    TARGET,
    internal_api_fixture,  # noqa: F401
    target_create,
)
from tests.workflows.factories import workflow_published
from workflows.api.auth import SCOPED_ROUTES
from workflows.internal_token import internal_ctx, internal_token_issue, internal_token_verify
from workflows.models import Run, Workflow
from workflows.services.copilot import copilot_install
from workflows.services.runs import run_start

pytestmark = pytest.mark.django_db(transaction=True)

OTHER = {**TARGET, "name": "Someone else's", "key": "other-workflow"}
READER = {
    "name": "Reader",
    "key": "reader",
    "is_system": True,
    "steps": [
        {
            "name": "noop",
            "block": "set-variables",
            "config": {"variables": [{"name": "x", "value": "1"}]},
        }
    ],
}


def copilot_run(alice: Any, focus: Workflow) -> Run:
    return run_start(
        workflow=copilot_install(),
        input={
            "user": str(alice.pk),
            "workflow": focus.pk,
            "workflow_key": focus.key,
            "thread": "t1",
            "message": "tidy it up",
            "mode": "edit",
        },
        triggered_by=alice,
    )


def scoped_token(alice: Any, focus: Workflow) -> str:
    run = copilot_run(alice, focus)
    token = internal_ctx(run=run)["internal_api_token"]
    return token


def unscoped_token(alice: Any) -> str:
    reader = workflow_published(READER)
    run = run_start(workflow=reader, input={}, triggered_by=alice)
    return internal_token_issue(run_id=run.pk, workflow_id=reader.pk, ttl=600)


def call(base: str, token: str, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(
        method,
        f"{base}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
        **kwargs,
    )


def test_a_copilot_run_gets_a_token_scoped_to_its_focus_and_other_system_runs_do_not(alice):
    focus = target_create()
    grant = internal_token_verify(scoped_token(alice, focus))
    assert grant.scope_workflow == focus.pk

    reader = workflow_published(READER)
    run = run_start(workflow=reader, input={}, triggered_by=alice)
    assert internal_token_verify(internal_ctx(run=run)["internal_api_token"]).scope_workflow is None


def test_the_scoped_token_reaches_the_editing_endpoints_of_the_focus(alice, internal_api):
    focus = target_create()
    token = scoped_token(alice, focus)
    wid = focus.pk

    assert call(internal_api, token, "GET", "/blocks").status_code == 200
    assert call(internal_api, token, "GET", "/blocks/http").status_code == 200
    assert call(internal_api, token, "GET", f"/workflows?key={focus.key}").status_code == 200
    assert call(internal_api, token, "GET", f"/workflows/{wid}").status_code == 200
    assert call(internal_api, token, "GET", f"/workflows/{wid}/runs").status_code == 200
    assert call(internal_api, token, "POST", f"/workflows/{wid}/validate").status_code == 200
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    assert call(internal_api, token, "POST", f"/workflows/{wid}/steps", json=step).status_code == (
        201
    )
    changed = {**HTTP_STEP, "description": "Tell the hook."}
    assert (
        call(
            internal_api, token, "PUT", f"/workflows/{wid}/steps/notify_api", json=changed
        ).status_code
        == 200
    )
    after = {
        "name": "after",
        "block": "set-variables",
        "config": {"variables": [{"name": "y", "value": "2"}]},
        "edges": [{"from": "prepare", "port": "out", "to": "after"}],
    }
    assert call(internal_api, token, "POST", f"/workflows/{wid}/steps", json=after).ok
    edge = {"from": "notify_api", "port": "out", "to": "after"}
    created = call(internal_api, token, "POST", f"/workflows/{wid}/edges", json=edge)
    assert created.status_code == 201, created.text
    removed = call(internal_api, token, "DELETE", f"/workflows/{wid}/edges/{created.json()['id']}")
    assert removed.status_code == 200, removed.text
    deleted = call(internal_api, token, "DELETE", f"/workflows/{wid}/steps/notify_api")
    assert deleted.status_code == 200, deleted.text
    assert sorted(focus.steps.values_list("name", flat=True)) == ["after", "prepare"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("DELETE", "/workflows/{focus}", None),
        ("PUT", "/workflows/{focus}", TARGET),
        ("POST", "/workflows", OTHER),
        ("POST", "/workflows/{focus}/runs", {"input": {"order": "A-1"}, "test": True}),
        ("POST", "/runs/{run}/cancel", None),
        ("GET", "/runs/{run}", None),
        ("GET", "/goals", None),
        ("GET", "/workflows", None),
        ("GET", "/workflows?key=other-workflow", None),
        ("GET", "/workflows/{other}", None),
        ("POST", "/workflows/{other}/steps", HTTP_STEP),
        ("POST", "/workflows/{other}/validate", None),
        ("GET", "/workflows/{copilot}", None),
    ],
)
def test_the_scoped_token_is_refused_everywhere_else(alice, internal_api, method, path, body):
    focus = target_create()
    other = target_create(OTHER)
    run = copilot_run(alice, focus)
    token = internal_ctx(run=run)["internal_api_token"]
    url = path.format(focus=focus.pk, other=other.pk, run=run.pk, copilot=run.workflow_id)

    refused = call(internal_api, token, method, url, json=body)

    assert refused.status_code == 403, refused.text
    assert "copilot's token may only" in refused.json()["detail"]
    # Nothing changed: the focus is still there with its one step, the run still open.
    assert Workflow.objects.get(pk=focus.pk).steps.count() == 1
    assert Run.objects.get(pk=run.pk).status in Run.OPEN_STATUSES
    assert not Workflow.objects.filter(key="order-intake", version=2).exists()


def test_the_same_person_unscoped_is_let_through_so_the_refusal_is_the_scope(alice, internal_api):
    other = target_create(OTHER)
    token = unscoped_token(alice)
    assert call(internal_api, token, "GET", f"/workflows/{other.pk}").status_code == 200
    assert call(internal_api, token, "GET", "/workflows").status_code == 200


def test_the_scope_still_acts_as_the_person_and_their_permissions_apply(charlie, internal_api):
    focus = target_create()
    token = scoped_token(charlie, focus)
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    refused = call(internal_api, token, "POST", f"/workflows/{focus.pk}/steps", json=step)
    assert refused.status_code == 403
    assert "workflows.change_workflow" in refused.json()["detail"]


def test_the_allow_list_has_no_publish_delete_run_or_governance_route():
    for method, route in SCOPED_ROUTES:
        assert not route.startswith(("runs", "goals", "tokens", "decisions"))
        assert (method, route) != ("DELETE", "workflows/<workflow_id>")
        assert "publish" not in route and "retire" not in route
