"""Who is calling the API, and may they do this?

Two ways in: ``Authorization: Bearer <token>`` (an ``ApiToken``, see
``workflows.services.tokens``) or the admin's session cookie. Session writes must
carry Django's CSRF token (ninja's ``SessionAuth`` checks it on unsafe methods);
bearer requests are not CSRF-prone (a browser never adds the header by itself).

Whoever authenticates is ``request.auth``; every endpoint then asks ``permission_require``
for the one permission it needs, so the answer is 401 without credentials and 403
with credentials that lack the permission.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import HttpBearer, SessionAuth

from workflows.internal_token import PREFIX as INTERNAL_PREFIX
from workflows.internal_token import InternalTokenInvalid, internal_token_verify
from workflows.models import Run
from workflows.services.tokens import api_token_authenticate

__all__ = ["ActiveSessionAuth", "BearerTokenAuth", "api_user", "permission_require"]


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
    # Kept for endpoints and audit rows that want to know the call came from a run.
    request.internal_grant = grant  # type: ignore[attr-defined]
    return user


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
