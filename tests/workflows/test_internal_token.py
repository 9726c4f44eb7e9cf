"""The internal API token: issued per run, verified strictly, placed narrowly, scrubbed."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.core import signing
from django.test import override_settings
from django.utils import timezone

from workflows import internal_token
from workflows.internal_token import (
    PREFIX,
    InternalGrant,
    InternalTokenInvalid,
    internal_api_token_provide,
    internal_base_url_provide,
    internal_ctx,
    internal_token_issue,
    internal_token_misplaced,
    internal_token_verify,
    secrets_scrub,
    url_under_base,
)
from workflows.models import Run, Workflow

BASE = "http://127.0.0.1:8080"


def test_a_token_verifies_to_its_run_and_workflow():
    token = internal_token_issue(run_id=12, workflow_id=5, ttl=60)
    grant = internal_token_verify(token)
    assert isinstance(grant, InternalGrant)
    assert (grant.run_id, grant.workflow_id) == (12, 5)


def test_an_expired_token_is_refused(monkeypatch: pytest.MonkeyPatch):
    token = internal_token_issue(run_id=12, workflow_id=5, ttl=timedelta(seconds=30))
    now = internal_token.time.time()
    monkeypatch.setattr(internal_token.time, "time", lambda: now + 31)
    with pytest.raises(InternalTokenInvalid, match="expired"):
        internal_token_verify(token)


def test_a_forged_signature_is_refused():
    token = internal_token_issue(run_id=12, workflow_id=5, ttl=60)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    with pytest.raises(InternalTokenInvalid, match="signature"):
        internal_token_verify(forged)


def test_a_payload_changed_to_another_run_is_refused():
    token = internal_token_issue(run_id=12, workflow_id=5, ttl=60)
    other = internal_token_issue(run_id=13, workflow_id=5, ttl=60)
    # Another run's payload under this token's signature.
    spliced = other.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    with pytest.raises(InternalTokenInvalid):
        internal_token_verify(spliced)


def test_a_token_signed_by_another_site_is_refused():
    with override_settings(SECRET_KEY="another-deployment-entirely-0123456789"):
        foreign = internal_token_issue(run_id=12, workflow_id=5, ttl=60)
    with pytest.raises(InternalTokenInvalid):
        internal_token_verify(foreign)


def test_another_signed_value_of_this_site_cannot_stand_in():
    # Same key, another purpose (salt): a decision link's signature, say.
    payload = {"r": 12, "w": 5, "e": internal_token.time.time() + 60}
    other_purpose = PREFIX + signing.dumps(payload, salt="decisions.link", compress=False)
    with pytest.raises(InternalTokenInvalid):
        internal_token_verify(other_purpose)


@pytest.mark.parametrize("value", ["", "Bearer x", "bzit1.", "bzit1.garbage", None])
def test_anything_else_is_refused(value: object):
    with pytest.raises(InternalTokenInvalid):
        internal_token_verify(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [0, -5, 24 * 3600 + 1])
def test_a_token_lives_more_than_nothing_and_at_most_a_day(ttl: int):
    with pytest.raises(ValueError, match="ttl"):
        internal_token_issue(run_id=1, workflow_id=1, ttl=ttl)


@pytest.mark.django_db
def test_internal_ctx_gives_system_runs_a_token_for_their_run():
    workflow = Workflow.objects.create(key="copilot", name="Copilot", is_system=True)
    run = Run.objects.create(workflow=workflow, deadline_at=timezone.now() + timedelta(minutes=5))
    with override_settings(INTERNAL_BASE_URL="http://127.0.0.1:8181"):
        ctx = internal_ctx(run=run)
    grant = internal_token_verify(ctx["internal_api_token"])
    assert (grant.run_id, grant.workflow_id) == (run.pk, workflow.pk)
    assert ctx["internal_base_url"] == "http://127.0.0.1:8181"
    # Valid until the run's deadline, not for an hour.
    assert grant.expires_at <= (run.deadline_at.timestamp() + 1)


@pytest.mark.django_db
def test_internal_ctx_gives_user_workflows_nothing():
    workflow = Workflow.objects.create(key="support", name="Support", is_system=False)
    run = Run.objects.create(workflow=workflow)
    assert internal_ctx(run=run) == {}


def test_secrets_scrub_masks_tokens_and_named_secrets_everywhere_in_json():
    token = internal_token_issue(run_id=1, workflow_id=1, ttl=60)
    value = {
        "headers": {"Authorization": f"Bearer {token}"},
        "echo": [f"got {token}!", {"deep": [token]}],
        token: "as a key",
        "api_key": "sk-partner-123",
        "n": 3,
        "ok": True,
        "none": None,
    }
    scrubbed = secrets_scrub(value, ["sk-partner-123"])
    assert token not in repr(scrubbed)
    assert "sk-partner-123" not in repr(scrubbed)
    assert scrubbed["headers"]["Authorization"] == "Bearer ***"
    assert scrubbed["echo"] == ["got ***!", {"deep": ["***"]}]
    assert (scrubbed["n"], scrubbed["ok"], scrubbed["none"]) == (3, True, None)
    # The original is left as it was (the engine may still need it).
    assert value["headers"]["Authorization"] == f"Bearer {token}"


def test_secrets_scrub_masks_a_token_without_being_told_it():
    token = internal_token_issue(run_id=1, workflow_id=1, ttl=60)
    assert secrets_scrub(f"error near {token}") == "error near ***"


@pytest.mark.parametrize(
    ("url", "under"),
    [
        ("http://127.0.0.1:8080/api/v1/runs", True),
        ("http://127.0.0.1:8080", True),
        ("http://127.0.0.1:8081/api", False),
        ("https://127.0.0.1:8080/api", False),
        ("http://127.0.0.1:8080@evil.test/api", False),
        ("http://127.0.0.1:8080.evil.test/api", False),
        ("http://user:pw@127.0.0.1:8080/api", False),
        ("http://localhost:8080/api", False),
    ],
)
def test_url_under_base_compares_parsed_parts(url: str, under: bool):
    assert url_under_base(url, BASE) is under


def test_url_under_base_respects_a_base_path():
    assert url_under_base("http://h.test/api/v1/runs", "http://h.test/api")
    assert not url_under_base("http://h.test/apiv2/runs", "http://h.test/api")


def test_the_token_is_placed_only_as_bearer_authorization_to_the_base():
    token = internal_token_issue(run_id=1, workflow_id=1, ttl=60)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (
        internal_token_misplaced(url=f"{BASE}/api/v1/runs", headers=bearer, base_url=BASE) is None
    )
    assert internal_token_misplaced(url="https://example.com/", headers={}, base_url=BASE) is None
    refused = [
        {"url": "https://example.com/hook", "headers": bearer},
        {"url": f"{BASE}/api", "headers": {}, "params": {"token": token}},
        {"url": f"{BASE}/api?t={token}", "headers": {}},
        {"url": f"{BASE}/api", "headers": {}, "json_body": {"auth": token}},
        {"url": f"{BASE}/api", "headers": {}, "form_body": {"auth": token}},
        {"url": f"{BASE}/api", "headers": {"X-Token": token}},
        {"url": f"{BASE}/api", "headers": {**bearer, "X-Copy": token}},
        {"url": f"{BASE}/api", "headers": {"Authorization": f"Token {token}"}},
    ]
    for request in refused:
        message = internal_token_misplaced(base_url=BASE, **request)
        assert message is not None, request
        assert message.startswith(
            f"the internal API token may only be sent as Authorization to {BASE}"
        )
        assert token not in message


@pytest.mark.django_db
def test_the_engine_providers_give_the_token_and_base_to_system_runs_only():
    system = Run.objects.create(
        workflow=Workflow.objects.create(key="copilot", name="Copilot", is_system=True)
    )
    user = Run.objects.create(
        workflow=Workflow.objects.create(key="support", name="Support", is_system=False)
    )
    token = internal_api_token_provide(SimpleNamespace(run=system))
    assert token is not None
    assert internal_token_verify(token).run_id == system.pk
    assert internal_base_url_provide(SimpleNamespace(run=system)) == settings.INTERNAL_BASE_URL
    assert internal_api_token_provide(SimpleNamespace(run=user)) is None
    assert internal_base_url_provide(SimpleNamespace(run=user)) is None
