"""workflows.api.auth: bearer tokens or the admin session, CSRF on session writes."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.workflows.api_helpers import catalogue  # noqa: F401  (the fixture, used by name)
from workflows.services.tokens import api_token_create, api_token_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_a_bearer_token_acts_as_its_owner(alice):
    _, raw = api_token_create(user=alice, name="ci", actor=alice)
    client = Client(headers={"Authorization": f"Bearer {raw}"})
    assert client.get("/api/v1/blocks").status_code == 200


def test_a_wrong_or_revoked_token_is_401(alice):
    token, raw = api_token_create(user=alice, name="ci", actor=alice)
    wrong = Client(headers={"Authorization": f"Bearer {raw}x"})
    assert wrong.get("/api/v1/blocks").status_code == 401

    api_token_revoke(token_id=token.pk, actor=alice)
    revoked = Client(headers={"Authorization": f"Bearer {raw}"})
    assert revoked.get("/api/v1/blocks").status_code == 401


def test_another_scheme_is_401(alice):
    client = Client(headers={"Authorization": "Basic YWxpY2U6cHc="})
    assert client.get("/api/v1/blocks").status_code == 401


def test_the_admin_session_is_accepted(alice):
    client = Client()
    client.force_login(alice)
    assert client.get("/api/v1/blocks").status_code == 200


def test_a_session_write_without_the_csrf_token_is_refused(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)

    response = client.post("/api/v1/workflows/1/validate")

    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_a_session_write_with_the_csrf_token_gets_through(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    client.get("/admin/")  # sets the csrftoken cookie, as the admin page does
    csrf = client.cookies["csrftoken"].value

    response = client.post("/api/v1/workflows/999999/validate", headers={"X-CSRFToken": csrf})

    # Past authentication and CSRF: the workflow does not exist.
    assert response.status_code == 404


def test_a_bearer_write_needs_no_csrf_token(alice):
    _, raw = api_token_create(user=alice, name="ci", actor=alice)
    client = Client(enforce_csrf_checks=True, headers={"Authorization": f"Bearer {raw}"})

    response = client.post(
        "/api/v1/workflows/999999/validate", data={}, content_type="application/json"
    )

    assert response.status_code == 404


def test_an_inactive_session_user_is_401(alice):
    client = Client()
    client.force_login(alice)
    alice.is_active = False
    alice.save()
    assert client.get("/api/v1/blocks").status_code == 401


def _system_run(alice, *, is_system: bool = True, status: str = "running"):
    from workflows.models import Run, Workflow

    workflow = Workflow.objects.create(key="copilot", name="Copilot", is_system=is_system)
    return Run.objects.create(workflow=workflow, triggered_by=alice, status=status)


def test_an_internal_token_acts_as_the_runs_triggering_user(alice):
    from workflows.internal_token import internal_token_issue

    run = _system_run(alice)
    raw = internal_token_issue(run_id=run.pk, workflow_id=run.workflow_id, ttl=60)
    client = Client(headers={"Authorization": f"Bearer {raw}"})

    assert client.get("/api/v1/blocks").status_code == 200


@pytest.mark.parametrize(("is_system", "status"), [(False, "running"), (True, "succeeded")])
def test_an_internal_token_of_a_user_workflow_or_a_finished_run_is_401(alice, is_system, status):
    from workflows.internal_token import internal_token_issue

    run = _system_run(alice, is_system=is_system, status=status)
    raw = internal_token_issue(run_id=run.pk, workflow_id=run.workflow_id, ttl=60)
    client = Client(headers={"Authorization": f"Bearer {raw}"})

    assert client.get("/api/v1/blocks").status_code == 401


def test_a_forged_internal_token_is_401(alice):
    from workflows.internal_token import PREFIX

    client = Client(headers={"Authorization": f"Bearer {PREFIX}forged.value"})
    assert client.get("/api/v1/blocks").status_code == 401
