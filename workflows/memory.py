"""The conversation memory the engine hands to ``memory-buffer`` (blocks never touch the ORM).

``OrmMemoryStore`` keeps messages in ``MemoryMessage`` rows. It is bounded: each key
keeps at most ``max_messages_per_key`` messages (the oldest go first), one add takes at
most ``MEMORY_MAX_ADD`` messages of at most ``MEMORY_MAX_CONTENT`` characters.

Concurrent adds to one key are safe without a lock: each add inserts its rows in one
statement, then trims in another ("delete every row at or below the id of the
(cap+1)-th newest"). A trim only ever deletes rows that are outside the newest ``cap``
of what it sees, and rows committed later only push those further back, so once the
adds have finished the key holds exactly its newest ``cap`` messages, whatever the
interleaving.

``memory_window`` is the one definition of a window, used by every store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction

from bizagent.llm.harmony import harmony_token_count
from workflows.models import MemoryMessage
from workflows.templates import harmony_neutralise

MEMORY_KEY_CAP = 200
MEMORY_MAX_ADD = 100
MEMORY_MAX_CONTENT = 50_000
MEMORY_MAX_KEY = 255
ROLES = tuple(MemoryMessage.Role.values)


def memory_tokens(content: str) -> int:
    """Tokens of a message's content; Harmony markers count as the inert text they become."""
    return harmony_token_count(harmony_neutralise(content))


def memory_messages_check(key: str, messages: list[dict[str, Any]]) -> None:
    """``ValueError`` naming the first thing wrong with a key or messages to add."""
    if not isinstance(key, str) or not key.strip():
        raise ValueError("the memory key is empty")
    if len(key) > MEMORY_MAX_KEY:
        raise ValueError(f"the memory key has {len(key)} characters; at most {MEMORY_MAX_KEY}")
    if len(messages) > MEMORY_MAX_ADD:
        raise ValueError(f"{len(messages)} messages in one add; at most {MEMORY_MAX_ADD}")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise ValueError(f"message {index} is not an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValueError(f"message {index}: role {role!r} is not one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise ValueError(f"message {index}: content must be text, not {type(content).__name__}")
        if len(content) > MEMORY_MAX_CONTENT:
            raise ValueError(
                f"message {index}: content has {len(content)} characters; "
                f"at most {MEMORY_MAX_CONTENT}"
            )


def memory_window(
    newest_first: Iterable[dict[str, Any]], *, max_messages: int | None, max_tokens: int | None
) -> list[dict[str, Any]]:
    """The newest messages that fit the window, in chronological order.

    ``newest_first`` yields ``{"role", "content", "tokens"}`` newest first. The window
    stops at ``max_messages`` messages, or before the first message that would take the
    total past ``max_tokens`` (so a window never holds half a conversation turn's
    message); ``None`` is no limit.
    """
    kept: list[dict[str, Any]] = []
    total = 0
    for message in newest_first:
        if max_messages is not None and len(kept) >= max_messages:
            break
        if max_tokens is not None and total + message["tokens"] > max_tokens:
            break
        total += message["tokens"]
        kept.append(message)
    kept.reverse()
    return kept


class OrmMemoryStore:
    """``MemoryStore`` over ``MemoryMessage`` rows, bounded per key."""

    def __init__(self, *, max_messages_per_key: int = MEMORY_KEY_CAP) -> None:
        self.cap = max_messages_per_key

    def get(
        self, key: str, *, max_messages: int | None, max_tokens: int | None
    ) -> list[dict[str, Any]]:
        """The key's newest window, oldest first, as ``{"role", "content", "tokens"}``."""
        limit = self.cap if max_messages is None else min(max_messages, self.cap)
        rows = (
            MemoryMessage.objects.filter(key=key)
            .order_by("-id")
            .values("role", "content", "tokens")[:limit]
        )
        return memory_window(
            ({**row} for row in rows), max_messages=max_messages, max_tokens=max_tokens
        )

    def add(self, key: str, messages: list[dict[str, Any]]) -> int:
        """Append ``messages`` in order; trims the key to its cap. Returns how many were added."""
        memory_messages_check(key, messages)
        rows = [
            MemoryMessage(
                key=key,
                role=message["role"],
                content=message["content"],
                tokens=memory_tokens(message["content"]),
            )
            for message in messages
        ]
        # One INSERT: a call's messages land together and in order.
        with transaction.atomic():
            MemoryMessage.objects.bulk_create(rows)
        self._trim(key)
        return len(rows)

    def clear(self, key: str) -> int:
        """Forget the key's messages; returns how many were deleted."""
        deleted, _ = MemoryMessage.objects.filter(key=key).delete()
        return deleted

    def _trim(self, key: str) -> None:
        boundary = list(
            MemoryMessage.objects.filter(key=key)
            .order_by("-id")
            .values_list("id", flat=True)[self.cap : self.cap + 1]
        )
        if boundary:
            MemoryMessage.objects.filter(key=key, id__lte=boundary[0]).delete()


def memory_provide(ctx: object) -> OrmMemoryStore:
    """The engine context's ``memory`` (registered at app ready)."""
    return OrmMemoryStore()
