"""The internal API token: how a system workflow's run calls this application's own API.

A token is short-lived, signed (``django.core.signing`` with a salt of its own, so no
other signed value of the site, a decision link say, can stand in for it) and scoped to
one run: it names the run and its workflow and carries its expiry. The API's auth
verifies it with ``internal_token_verify``; the engine offers it to system workflows
only, as ``{{ ctx.internal_api_token }}`` (``internal_ctx``).

Where it may go is narrow (``internal_token_misplaced``): only as ``Authorization:
Bearer …``, only to ``BIZAGENT_INTERNAL_BASE_URL``, with redirects off. Anywhere else
(another host, the query, the body, another header) the request is refused before it
leaves. It never reaches a stored row or an error: ``secrets_scrub`` takes it (and any
other string that has the token's shape) out of what the engine records.

A token may also carry a **scope** (``InternalGrant.scope_workflow``): the copilot's
run gets one naming the workflow in focus, and the API's auth layer then lets it reach
only the workflow-editing endpoints of that workflow (``workflows.api.auth``). The
scope is a signed claim, so it cannot be widened by whoever holds the token.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing

from bizagent.logredact import INTERNAL_TOKEN, INTERNAL_TOKEN_PREFIX
from bizagent.redact import MASK
from workflows.copilot import COPILOT_KEY

if TYPE_CHECKING:
    from workflows.models import Run

SALT = "workflows.internal_api_token"
#: Every token starts with this, so a token can be recognised (and scrubbed, kept out
#: of places it must not go, and out of log lines) wherever a template has put it.
PREFIX = INTERNAL_TOKEN_PREFIX
TOKEN_PATTERN = INTERNAL_TOKEN
#: A token outlives no run by long, whatever the caller asks.
MAX_TTL_SECONDS = 24 * 3600
#: When the run has no deadline, its token lives this long.
DEFAULT_TTL_SECONDS = 3600


class InternalTokenInvalid(Exception):
    """The token is forged, expired, malformed or not for this site."""


@dataclass(frozen=True)
class InternalGrant:
    """What a verified token lets its bearer act as: the run (of the workflow) it names."""

    run_id: int
    workflow_id: int
    expires_at: float
    #: When set, the token may only edit this workflow (its key's versions) through the
    #: allow-listed endpoints; ``None`` is the unscoped token of other system workflows.
    scope_workflow: int | None = None


def internal_token_issue(
    *, run_id: int, workflow_id: int, ttl: float | timedelta, scope_workflow: int | None = None
) -> str:
    """A signed token scoped to run ``run_id`` of workflow ``workflow_id``, valid ``ttl``.

    ``ttl`` is seconds (or a ``timedelta``), more than zero and at most a day.
    ``scope_workflow`` narrows it to editing that one workflow (the copilot's focus).
    """
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else float(ttl)
    if not 0 < seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl must be between 0 and {MAX_TTL_SECONDS} seconds, got {seconds:g}")
    payload: dict[str, Any] = {
        "r": int(run_id),
        "w": int(workflow_id),
        "e": round(time.time() + seconds, 3),
    }
    if scope_workflow is not None:
        payload["s"] = int(scope_workflow)
    return PREFIX + signing.dumps(payload, salt=SALT, compress=False)


def internal_token_verify(token: str) -> InternalGrant:
    """The grant a token carries; ``InternalTokenInvalid`` if forged, foreign or expired.

    The message never quotes the token.
    """
    if not isinstance(token, str) or not token.startswith(PREFIX):
        raise InternalTokenInvalid("not an internal API token")
    try:
        payload = signing.loads(token[len(PREFIX) :], salt=SALT)
    except signing.BadSignature:
        raise InternalTokenInvalid("the internal API token's signature is not valid") from None
    try:
        grant = InternalGrant(
            run_id=int(payload["r"]),
            workflow_id=int(payload["w"]),
            expires_at=float(payload["e"]),
            scope_workflow=int(payload["s"]) if payload.get("s") is not None else None,
        )
    except (KeyError, TypeError, ValueError):
        raise InternalTokenInvalid("the internal API token is malformed") from None
    if grant.expires_at <= time.time():
        raise InternalTokenInvalid("the internal API token has expired")
    return grant


def internal_ctx(*, run: Run) -> dict[str, str]:
    """The ``ctx`` entries a run's templates may read for the internal API.

    System workflows get ``internal_api_token`` (valid until the run's deadline, or an
    hour) and ``internal_base_url``; other workflows get neither, so a reference to the
    token in a user workflow fails as an unresolved template instead of sending anything.
    """
    if not run.workflow.is_system:
        return {}
    ttl: float = DEFAULT_TTL_SECONDS
    if run.deadline_at is not None:
        ttl = run.deadline_at.timestamp() - time.time()
    ttl = min(max(ttl, 60.0), MAX_TTL_SECONDS)
    return {
        "internal_api_token": internal_token_issue(
            run_id=run.pk, workflow_id=run.workflow_id, ttl=ttl, scope_workflow=_scope(run)
        ),
        "internal_base_url": settings.INTERNAL_BASE_URL,
    }


def _scope(run: Run) -> int | None:
    """The workflow a system run's token is narrowed to: the copilot's focus, else none.

    The copilot is recognised by its key (``workflows.copilot.COPILOT_KEY``, installed
    by the system only), and its focus is its run's ``workflow`` input (checked by its
    input schema). A copilot run whose input names no workflow gets a token scoped to
    nothing (``0``), never an unscoped one.
    """
    if run.workflow.key != COPILOT_KEY:
        return None
    focus = (run.input or {}).get("workflow")
    return focus if isinstance(focus, int) and not isinstance(focus, bool) else 0


class _RunContext(Protocol):
    run: Run


def internal_api_token_provide(ctx: _RunContext) -> str | None:
    """The engine's ``ctx.internal_api_token`` provider: a token for system runs only."""
    return internal_ctx(run=ctx.run).get("internal_api_token")


def internal_base_url_provide(ctx: _RunContext) -> str | None:
    """The engine's ``ctx.internal_base_url`` provider (system runs only, as the token)."""
    return internal_ctx(run=ctx.run).get("internal_base_url")


def tokens_in(value: Any) -> list[str]:
    """Every internal-token-shaped string inside a JSON value (keys included)."""
    found: list[str] = []
    for text in _strings(value):
        found += TOKEN_PATTERN.findall(text)
    return found


def _strings(value: Any) -> list[str]:
    out: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            for key, inner in item.items():
                stack.append(str(key))
                stack.append(inner)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return out


def secrets_scrub(value: Any, secrets: list[str] | tuple[str, ...] = ()) -> Any:
    """A copy of the JSON ``value`` with each of ``secrets`` and every internal token masked.

    Walks dicts (keys too), lists and strings; numbers, booleans and null pass through.
    The engine applies it to a step's input, output and error before recording them, so
    a token a template put there (or an internal API echoed back) is never stored.
    """
    wanted = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub_text(text: str) -> str:
        for secret in wanted:
            text = text.replace(secret, MASK)
        return TOKEN_PATTERN.sub(MASK, text)

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return scrub_text(item)
        if isinstance(item, dict):
            return {scrub_text(str(key)): walk(inner) for key, inner in item.items()}
        if isinstance(item, list | tuple):
            return [walk(inner) for inner in item]
        return item

    return walk(value)


def url_under_base(url: str, base: str) -> bool:
    """Whether ``url`` is ``base`` or below it: same scheme, host and port, path prefix.

    Compared on parsed parts, never as strings, so ``http://127.0.0.1:8080@evil.test/``
    or ``http://127.0.0.1:8080.evil.test/`` are not "under" ``http://127.0.0.1:8080``.
    """
    try:
        target, root = urlsplit(url), urlsplit(base)
        target_port, root_port = target.port, root.port
    except ValueError:
        return False
    defaults = {"http": 80, "https": 443}
    if target.username is not None or target.password is not None:
        return False
    if target.scheme.lower() != root.scheme.lower():
        return False
    if (target.hostname or "") != (root.hostname or ""):
        return False
    scheme = root.scheme.lower()
    if (target_port or defaults.get(scheme)) != (root_port or defaults.get(scheme)):
        return False
    prefix = root.path.rstrip("/")
    return target.path == prefix or target.path.startswith(prefix + "/") or not prefix


def internal_token_misplaced(
    *,
    url: str,
    headers: dict[str, str] | None,
    params: Any = None,
    json_body: Any = None,
    form_body: Any = None,
    base_url: str | None = None,
) -> str | None:
    """Why this request may not carry the internal token it carries, or ``None`` if fine.

    A request without a token is always fine. One with a token is fine only when the
    token is in ``Authorization: Bearer <token>`` and nowhere else, and the URL is under
    the internal base URL. The message names the rule and the base, never the token.
    """
    base = (base_url or settings.INTERNAL_BASE_URL).rstrip("/")
    headers = headers or {}
    elsewhere = tokens_in([url, params, json_body, form_body]) + tokens_in(
        {k: v for k, v in headers.items() if k.lower() != "authorization"}
    )
    authorization = [v for k, v in headers.items() if k.lower() == "authorization"]
    in_authorization = tokens_in(authorization)
    if not elsewhere and not in_authorization:
        return None
    rule = f"the internal API token may only be sent as Authorization to {base}"
    if elsewhere:
        return rule
    if not url_under_base(url, base):
        return rule
    if len(authorization) != 1 or not re.fullmatch(
        r"Bearer " + TOKEN_PATTERN.pattern, authorization[0].strip()
    ):
        return rule + " (as 'Bearer <token>', alone)"
    return None
