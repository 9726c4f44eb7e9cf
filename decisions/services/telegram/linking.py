"""Linking a person's Telegram account: one-time tokens, binding, unlinking (audited)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from decisions.actors import Person
from decisions.models import TelegramLink, TelegramLinkToken
from decisions.services.audit import audit_log

LINK_TOKEN_TTL = timedelta(minutes=10)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def telegram_link_token_issue(*, user: Person, now: datetime | None = None) -> str:
    """A new one-time link token for ``user`` (only its hash is stored); 10 minutes."""
    now = now or timezone.now()
    token = secrets.token_urlsafe(24)  # t.me start parameters: [A-Za-z0-9_-], ≤ 64
    row = TelegramLinkToken(
        user=user, token_hash=_token_hash(token), created_at=now, expires_at=now + LINK_TOKEN_TTL
    )
    row.full_clean()
    row.save()
    return token


class LinkTokenRefused(Exception):
    MESSAGES = {
        "unknown": "This link is not valid. Open Link Telegram in the admin for a new one.",
        "used": "This link was already used. Each link works once; open the admin for a new one.",
        "expired": "This link has expired (links last 10 minutes). Open the admin for a new one.",
        "taken": "This Telegram account is already linked to another person.",
    }

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
        self.message = self.MESSAGES[code]


def telegram_link_bind(
    *,
    token: str,
    telegram_user_id: int,
    chat_id: int,
    telegram_username: str = "",
    now: datetime | None = None,
) -> TelegramLink:
    """Bind the Telegram account that opened ``token`` to the token's user (single use).

    Raises ``LinkTokenRefused`` for an unknown, used or expired token (nothing bound).
    Linking again replaces the earlier account; both are audited.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = (
            TelegramLinkToken.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=_token_hash(token))
            .first()
        )
        if row is None:
            raise LinkTokenRefused("unknown")
        if row.used_at is not None:
            raise LinkTokenRefused("used")
        if now >= row.expires_at:
            raise LinkTokenRefused("expired")
        other = (
            TelegramLink.objects.filter(telegram_user_id=telegram_user_id)
            .exclude(user=row.user)
            .exists()
        )
        if other:
            raise LinkTokenRefused("taken")
        # Compare-and-set: of two updates carrying one token, one spends it.
        if not TelegramLinkToken.objects.filter(pk=row.pk, used_at__isnull=True).update(
            used_at=now
        ):
            raise LinkTokenRefused("used")
        existing = TelegramLink.objects.select_for_update().filter(user=row.user).first()
        previous = existing.telegram_user_id if existing else None
        link, _created = TelegramLink.objects.update_or_create(
            user=row.user,
            defaults={
                "telegram_user_id": telegram_user_id,
                "chat_id": chat_id,
                "telegram_username": telegram_username[:100],
                "linked_at": now,
            },
        )
        audit_log(
            action="decisions.telegram_relinked" if existing else "decisions.telegram_linked",
            actor=row.user,
            subject=link,
            data={"telegram_user_id": telegram_user_id, "previous": previous},
        )
    return link


def telegram_unlink(*, user: Person) -> bool:
    """Forget ``user``'s Telegram account; False when none was linked. Audited."""
    with transaction.atomic():
        link = TelegramLink.objects.select_for_update().filter(user=user).first()
        if link is None:
            return False
        audit_log(
            action="decisions.telegram_unlinked",
            actor=user,
            subject=link,
            data={"telegram_user_id": link.telegram_user_id},
        )
        link.delete()
    return True
