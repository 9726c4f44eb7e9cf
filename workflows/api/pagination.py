"""Cursor pagination: ``{"data": [...], "next_cursor": ...}``.

The cursor is opaque to clients (base64 of the last key seen), so the order can stay
stable while rows are added: a page never repeats or skips a row the way offsets do
when the list grows between two requests.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from workflows.errors import WorkflowInvalid, problem

__all__ = [
    "LIMIT_DEFAULT",
    "LIMIT_MAX",
    "cursor_decode",
    "cursor_encode",
    "page_of",
    "page_sequence",
]

LIMIT_DEFAULT = 50
LIMIT_MAX = 100

M = TypeVar("M", bound=Model)
T = TypeVar("T")


def cursor_encode(after: int | str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode().rstrip("=")


def cursor_decode(cursor: str, *, kind: type) -> Any:
    """The key a cursor points after; a cursor this API did not make is a 400 naming it."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))["after"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        after = None
    if not isinstance(after, kind) or isinstance(after, bool):
        raise WorkflowInvalid(
            [problem("TYPE", "cursor is not one this API returned", path="cursor")]
        )
    return after


def page_of(queryset: QuerySet[M], *, cursor: str | None, limit: int) -> tuple[list[M], str | None]:
    """Up to ``limit`` rows, newest first (by id), after ``cursor``; and the next cursor."""
    rows = queryset.order_by("-id")
    if cursor:
        rows = rows.filter(id__lt=cursor_decode(cursor, kind=int))
    found = list(rows[: limit + 1])
    if len(found) > limit:
        return found[:limit], cursor_encode(found[limit - 1].pk)
    return found, None


def page_sequence(
    items: Sequence[T], *, key: Callable[[T], str], cursor: str | None, limit: int
) -> tuple[list[T], str | None]:
    """The same paging over an in-memory list (the block catalogue), ordered by ``key``."""
    ordered = sorted(items, key=key)
    if cursor:
        after = cursor_decode(cursor, kind=str)
        ordered = [item for item in ordered if key(item) > after]
    if len(ordered) > limit:
        return ordered[:limit], cursor_encode(key(ordered[limit - 1]))
    return ordered, None
