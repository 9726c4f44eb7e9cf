"""Who is calling the API, and may they do this?

Two ways in: ``Authorization: Bearer <token>`` (an ``ApiToken``, see
``workflows.services.tokens``) or the admin's session cookie. Session writes must
carry Django's CSRF token (ninja's ``SessionAuth`` checks it on unsafe methods);
bearer requests are not CSRF-prone (a browser never adds the header by itself).

Whoever authenticates is ``request.auth``; every endpoint then asks ``permission_require``
for the one permission it needs, so the answer is 401 without credentials and 403
with credentials that lack the permission.

A *scoped* internal token (the copilot's: ``InternalGrant.scope_workflow``) is narrowed
here, centrally, before any endpoint runs: only the (method, route) pairs of
``SCOPED_ROUTES`` (read blocks, read the workflow and its runs, edit its steps and
edges, validate) and only on the versions of the workflow in focus; anything else is
403. It still acts as the person who asked, so their permissions apply on top.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from workflows.internal_token import PREFIX as INTERNAL_PREFIX
from workflows.internal_token import InternalTokenInvalid, internal_token_verify
from workflows.models import Run, Workflow
from workflows.services.tokens import api_token_authenticate

__all__ = [
    "SCOPED_ROUTES",
    "ActiveSessionAuth",
    "BearerTokenAuth",
    "api_user",
    "permission_require",
    "request_intent",
]

#: What a scoped (copilot) token may call: (method, route below /api/v1/). No publish,
#: retire or delete of a workflow, no runs started or cancelled, no tokens, no goals,
#: no governance: those are not here, so they are refused whatever the endpoint.
SCOPED_ROUTES = frozenset(
    {
        ("GET", "blocks"),
        ("GET", "blocks/<slug>"),
        ("GET", "workflows"),
        ("GET", "workflows/<workflow_id>"),
        ("GET", "workflows/<workflow_id>/runs"),
        ("POST", "workflows/<workflow_id>/steps"),
        ("PUT", "workflows/<workflow_id>/steps/<step_name>"),
        ("DELETE", "workflows/<workflow_id>/steps/<step_name>"),
        ("POST", "workflows/<workflow_id>/edges"),
        ("DELETE", "workflows/<workflow_id>/edges/<edge_id>"),
        ("POST", "workflows/<workflow_id>/validate"),
    }
)
#: How long a recorded intent (the request that caused an edit) may be.
INTENT_MAX = 1000


class BearerTokenAuth(HttpBearer):
    """``Authorization: Bearer <token>``: a person's API token, or the internal token of a
    system workflow's run (``workflows.internal_token``).

    An internal token acts as the person who triggered its run, with their permissions,
    and only while the run is open and its workflow is a system one: a token copied out
    of a finished run, or minted for a user workflow, gets nothing.
    """

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        if token.startswith(INTERNAL_PREFIX):
            return _internal_user(request, token)
        return api_token_authenticate(token)


def _internal_user(request: HttpRequest, token: str) -> User | None:
    try:
        grant = internal_token_verify(token)
    except InternalTokenInvalid:
        return None
    run = (
        Run.objects.select_related("workflow", "triggered_by")
        .filter(pk=grant.run_id, workflow_id=grant.workflow_id)
        .first()
    )
    if run is None or not run.workflow.is_system or run.status not in Run.OPEN_STATUSES:
        return None
    user = run.triggered_by
    if user is None or not user.is_active:
        return None
    if grant.scope_workflow is not None:
        refusal = _scope_refusal(request, grant.scope_workflow)
        if refusal:
            raise HttpError(403, refusal)
        # The person's request, recorded as the intent of every edit this run makes.
        message = (run.input or {}).get("message")
        request.internal_intent = (  # type: ignore[attr-defined]
            f"copilot run #{run.pk}: {message}"[:INTENT_MAX] if isinstance(message, str) else ""
        )
    # Kept for endpoints and audit rows that want to know the call came from a run.
    request.internal_grant = grant  # type: ignore[attr-defined]
    return user


def _scope_refusal(request: HttpRequest, focus_id: int) -> str | None:
    """Why a scoped token may not make this request, or ``None`` when it may."""
    match = request.resolver_match
    route = match.route.removeprefix("api/v1/") if match else ""
    if (request.method, route) not in SCOPED_ROUTES:
        return "the copilot's token may only read blocks and edit the workflow in focus"
    focus_key = Workflow.objects.filter(pk=focus_id).values_list("key", flat=True).first()
    if focus_key is None:
        return "the copilot's token names no workflow"
    if route == "workflows":
        # The list is narrowed to the focus's versions (the tool asks with ?key=).
        if request.GET.get("key") != focus_key:
            return "the copilot's token may only list the versions of the workflow in focus"
        return None
    if match is None or "workflow_id" not in match.kwargs:
        return None  # the block catalogue
    target = str(match.kwargs["workflow_id"])
    if not target.isdigit() or not Workflow.objects.filter(pk=int(target), key=focus_key).exists():
        return "the copilot's token may only reach the workflow in focus"
    return None


def request_intent(request: HttpRequest) -> str:
    """The recorded intent of a write: the copilot user's request, or '' for anyone else."""
    return str(getattr(request, "internal_intent", ""))


class ActiveSessionAuth(SessionAuth):
    """The admin's session (CSRF checked on writes); an inactive user is nobody."""

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = request.user
        if user.is_authenticated and user.is_active:
            return user
        return None


def api_user(request: HttpRequest) -> User:
    """The person the request acts as (set by whichever authenticator let it in)."""
    user = getattr(request, "auth", None)
    if not isinstance(user, User):  # the API is mounted with auth on every endpoint
        raise HttpError(401, "Unauthorized")
    return user


def permission_require(request: HttpRequest, *permissions: str) -> User:
    """The caller, if they hold every one of ``permissions``; else a 403 naming one missing."""
    user = api_user(request)
    for permission in permissions:
        if not user.has_perm(permission):
            raise HttpError(403, f"you need the {permission} permission")
    return user
