"""REST API tokens: made (shown once), checked on every request, revoked.

The raw token is returned by ``api_token_create`` and never stored: rows keep its
SHA-256 digest and its first characters. Authentication finds candidate rows by
prefix and compares digests with ``hmac.compare_digest``, so how long a comparison
takes says nothing about how much of a guessed token was right.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from decisions.actors import Actor
from decisions.services import audit_log
from workflows.errors import WorkflowStateError
from workflows.models import ApiToken

__all__ = [
    "TOKEN_MARKER",
    "api_token_authenticate",
    "api_token_create",
    "api_token_revoke",
]

#: Every token starts with it, so a leaked one is recognisable (secret scanners, logs).
TOKEN_MARKER = "bza_"  # noqa: S105  (a public marker, not a secret)
#: ``last_used_at`` is written at most this often per token: not one write per request.
LAST_USED_GRANULARITY = timedelta(minutes=1)
NAME_MAX = ApiToken._meta.get_field("name").max_length or 100


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def api_token_create(
    *,
    user: User,
    name: str,
    actor: Actor,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for ``user`` and return it with the raw token (shown once, never stored).

    ``name`` says what the token is for; ``expires_at`` (optional) must be in the future.
    Audited as ``workflows.api_token_created`` with the prefix, never the token.
    """
    name = name.strip()
    if not name:
        raise ValueError("a token needs a name saying what it is for")
    if len(name) > NAME_MAX:
        raise ValueError(f"a token's name is at most {NAME_MAX} characters")
    if not user.is_active:
        raise ValueError(f"user {user.get_username()!r} is not active")
    if expires_at is not None and expires_at <= timezone.now():
        raise ValueError("expires_at is in the past")
    raw = TOKEN_MARKER + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken(
            user=user,
            name=name,
            prefix=raw[: ApiToken.PREFIX_CHARS],
            digest=_digest(raw),
            expires_at=expires_at,
        )
        token.full_clean()
        token.save()
        audit_log(
            action="workflows.api_token_created",
            actor=actor,
            subject=token,
            data={"user": user.get_username(), "name": name, "prefix": token.prefix},
        )
    return token, raw


def api_token_revoke(*, token_id: int, actor: Actor) -> ApiToken:
    """Revoke a token: it is refused from now on. Revoking twice is refused.

    Guarded under ``select_for_update`` so two revocations at once write one audit row.
    """
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().get(pk=token_id)
        if token.revoked_at is not None:
            raise WorkflowStateError(f"token {token.prefix}… is already revoked")
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_log(
            action="workflows.api_token_revoked",
            actor=actor,
            subject=token,
            data={"user": token.user.get_username(), "name": token.name, "prefix": token.prefix},
        )
    return token


def api_token_authenticate(raw: str) -> User | None:
    """The active user a live (not revoked, not expired) token belongs to, else None.

    Records when the token was last used (at most once a minute, compare-and-set so
    concurrent requests write once).
    """
    if not raw.startswith(TOKEN_MARKER) or len(raw) > 200:
        return None
    now = timezone.now()
    digest = _digest(raw)
    candidates = (
        ApiToken.objects.select_related("user")
        .filter(prefix=raw[: ApiToken.PREFIX_CHARS], revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
    )
    match: ApiToken | None = None
    for candidate in candidates:
        # Every candidate is compared, so the time taken does not say which one matched.
        if hmac.compare_digest(candidate.digest, digest):
            match = candidate
    if match is None or not match.user.is_active:
        return None
    stale = now - LAST_USED_GRANULARITY
    ApiToken.objects.filter(pk=match.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
    ).update(last_used_at=now)
    return match.user
