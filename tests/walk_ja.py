"""Helpers for the Japanese walk tests: what a person reads under ``ja``, asked of the
catalogue rather than written here, so the tests hold as the catalogue grows."""

from __future__ import annotations

import re

from django.utils import translation

#: Hiragana, katakana and the CJK ideographs: a text "contains Japanese" when it has one.
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def ja(msgid: str) -> str:
    """``msgid`` as the Japanese catalogue has it (the msgid itself while untranslated)."""
    with translation.override("ja"):
        return translation.gettext(msgid)


def ja_translated(msgid: str) -> str:
    """``msgid`` in Japanese, for strings main already translates: never the English."""
    text = ja(msgid)
    assert text != msgid and JAPANESE.search(text), f"{msgid!r} has no Japanese"
    return text


def is_japanese(text: str) -> bool:
    return bool(JAPANESE.search(text))
