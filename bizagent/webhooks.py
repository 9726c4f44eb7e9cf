"""Standard Webhooks signature verification (Whop signs its webhooks this way).

A delivery carries three headers: ``webhook-id`` (unique per message, the same on every
retry of it), ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``: one or more
space-separated ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` entries (several
while a secret is being rotated; any one matching is enough). The HMAC is computed over
the *raw* body bytes: a body re-serialised after parsing would not match.

Replays: a timestamp more than five minutes from now is refused, which bounds how long a
captured delivery can be replayed; within that window, refusing a second delivery of
the same ``webhook-id`` is the caller's job (it owns the store), so the id is returned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Seconds a delivery's timestamp may be from our clock, either way (the standard's 5 min).
TOLERANCE_SECONDS = 300
#: A webhook-id or signature header longer than this is not one: refused before hashing.
_MAX_HEADER = 4096
_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format marker, not a secret


class WebhookVerificationError(Exception):
    """The delivery is not authentic, too old, or malformed. The message says which,
    never the secret or a valid signature."""


@dataclass(frozen=True)
class WebhookEvent:
    """A verified delivery: ``id`` for the caller's replay dedupe, the parsed ``payload``."""

    id: str
    timestamp: int
    payload: dict[str, Any]


def webhook_secret_key(secret: str) -> bytes:
    """The HMAC key: ``whsec_<base64>`` decoded, or any other secret's UTF-8 bytes.

    Why the second form: Whop's dashboard shows a plain secret and its SDK hands
    ``base64(secret)`` to the standard verifier, which decodes it straight back; using
    the bytes as they are is the same key.
    """
    secret = secret.strip()
    if not secret:
        raise WebhookVerificationError("the webhook secret is empty")
    if secret.startswith(_SECRET_PREFIX):
        try:
            key = base64.b64decode(secret[len(_SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookVerificationError(
                "the webhook secret starts with whsec_ but the rest is not base64"
            ) from None
        if not key:
            raise WebhookVerificationError("the webhook secret has no key after whsec_")
        return key
    return secret.encode("utf-8")


def webhook_sign(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of a delivery (what the sender computes)."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def _header(headers: Mapping[str, str], name: str) -> str:
    # HTTP header names are case-insensitive; a plain dict (a test, a queue) is not.
    value = headers.get(name)
    if value is None:
        lowered = {key.lower(): item for key, item in headers.items()}
        value = lowered.get(name)
    if value is None or not str(value).strip():
        raise WebhookVerificationError(f"the {name} header is missing")
    value = str(value).strip()
    if len(value) > _MAX_HEADER:
        raise WebhookVerificationError(f"the {name} header is too long")
    return value


def webhook_verify(
    *,
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> WebhookEvent:
    """Check a delivery's signature on its raw ``body``; return the parsed event.

    Raises ``WebhookVerificationError`` naming what is wrong: a missing or malformed
    header, a stale or future timestamp, no matching signature, or a body that is not a
    JSON object. The timestamp is checked before the HMAC so that an old captured
    delivery is refused as stale whatever its signature.
    """
    if not isinstance(body, bytes | bytearray):
        raise WebhookVerificationError("the body must be the raw request bytes")
    webhook_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signature_header = _header(headers, "webhook-signature")
    if not timestamp_text.isdigit() or len(timestamp_text) > 12:
        raise WebhookVerificationError("the webhook-timestamp header must be Unix seconds")
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError(
            f"the webhook-timestamp is more than {tolerance} seconds from now (stale or replayed)"
        )
    key = webhook_secret_key(secret)
    expected = hmac.new(
        key, f"{webhook_id}.{timestamp_text}.".encode() + bytes(body), hashlib.sha256
    ).digest()
    candidates = []
    for entry in signature_header.split():
        version, _, encoded = entry.partition(",")
        if version != "v1" or not encoded:
            continue  # other schemes (v1a: asymmetric) are not ours to check
        try:
            candidates.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not candidates:
        raise WebhookVerificationError("the webhook-signature header holds no v1 signature")
    # Every candidate is compared (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        matched |= hmac.compare_digest(candidate, expected)
    if not matched:
        raise WebhookVerificationError("no signature in webhook-signature matches the body")
    try:
        payload = json.loads(bytes(body))
    except (UnicodeDecodeError, ValueError):
        raise WebhookVerificationError("the signed body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookVerificationError("the signed body is not a JSON object")
    return WebhookEvent(id=webhook_id, timestamp=timestamp, payload=payload)
