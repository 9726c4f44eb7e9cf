"""A pseudo-Japanese catalogue for tests: every marked msgid "translated" to 〔msgid〕 in
the ja catalogue, so a test proves a text is marked and rendered through the catalogue in
the reader's language without depending on the real Japanese being merged yet."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest
from django.utils.translation import trans_real

from bizagent.i18n_messages import Message, marked_messages


@cache
def all_marked() -> dict[tuple[str, str], Message]:
    return marked_messages()


def pseudo(msgid: str) -> str:
    return f"〔{msgid}〕"


@pytest.fixture
def pseudo_ja() -> Iterator[None]:
    """Every marked string "translated" to 〔msgid〕 in the ja catalogue, for this test."""
    catalogue: dict = {}
    for (context, msgid), message in all_marked().items():
        key = f"{context}\x04{msgid}" if context else msgid
        if message.plural:
            catalogue[(key, 0)] = pseudo(msgid)
            catalogue[(key, 1)] = pseudo(message.plural)
        else:
            catalogue[key] = pseudo(msgid)
    ja = trans_real.translation("ja")._catalog  # type: ignore[attr-defined]
    ja._catalogs.insert(0, catalogue)
    ja._plurals.insert(0, lambda n: int(n != 1))
    try:
        yield
    finally:
        ja._catalogs.remove(catalogue)
        ja._plurals.pop(0)
