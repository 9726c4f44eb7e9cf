"""Helpers for the Japanese walk tests: what a person reads under ``ja``, asked of the
catalogue rather than written here, so the tests hold as the catalogue grows."""

from __future__ import annotations

import re
from collections.abc import Iterator

from django.utils import translation
from playwright.sync_api import Browser, Page

from tests.browser import LOOPBACK

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


def page_ja_open(browser: Browser, base_url: str) -> Iterator[Page]:
    """A page in a browser that asks for Japanese first, as the users' browsers do;
    nothing beyond loopback is reached (refused requests fail the caller's test)."""
    from urllib.parse import urlparse

    context = browser.new_context(base_url=base_url, locale="ja-JP")
    context.set_default_timeout(15_000)
    outside: list[str] = []

    def loopback_only(route):  # type: ignore[no-untyped-def]
        if urlparse(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    yield context.new_page()
    context.close()
    assert outside == [], "the admin tried to reach beyond loopback"
