"""The Profile page in headless Chromium, as a person uses it: from the user menu choose
English, save, read the admin in English; log out, and from a fresh browser that asks
for Japanese (Accept-Language: ja) log in again and still read English. The header's
language switch likewise follows the person to another browser.

Which language a page is in is read from ``<html lang>`` and from ``gettext`` of the
words under that language, so this holds before and after the Japanese is merged."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Browser, Page, expect

from decisions.models import AuditEvent
from decisions.services.person import person_language
from tests.browser import admin_log_in, page_open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def said(msgid: str, language: str) -> str:
    with translation.override(language):
        return gettext(msgid)


@pytest.fixture
def japanese_browser(browser: Browser, live_server) -> Iterator[Callable[[], Page]]:
    """Fresh browser contexts (no cookie, no session) asking for Japanese first."""
    with ExitStack() as stack:
        yield lambda: stack.enter_context(page_open(browser, live_server.url, locale="ja-JP"))


@pytest.fixture(autouse=True)
def default_ja(settings):
    settings.LANGUAGE_CODE = "ja"  # BIZAGENT_LANGUAGE


def log_out(page: Page) -> None:
    page.locator("#logout-form button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", re.compile("."))


def test_a_person_chooses_english_and_keeps_it_in_a_fresh_browser(japanese_browser, alice):
    page = japanese_browser()
    admin_log_in(page, "alice", "pw-alice-123")
    expect(page.locator("html")).to_have_attribute("lang", "ja")  # the browser's language

    page.locator("#userlink-profile").click()
    expect(page.locator("#profile-form")).to_be_visible()
    # The notification and Telegram pages are a click away.
    page.locator("#profile-notifications").click()
    expect(page).to_have_url(re.compile(r"/notifications/$"))
    page.go_back()
    page.locator("#profile-telegram").click()
    expect(page).to_have_url(re.compile(r"/telegramlink/link/$"))
    page.go_back()
    page.locator("input[name=language][value=en]").check()
    page.locator("#profile-form input[type=submit]").click()

    # Saving applies at once: the next page is in English.
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".messagelist")).to_contain_text(said("Your profile is saved.", "en"))
    expect(page.locator("#userlink-profile")).to_have_text(said("Profile", "en"))
    expect(page.locator("input[name=language][value=en]")).to_be_checked()
    page.goto("/admin/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert person_language(user_id=alice.pk) == "en"
    assert AuditEvent.objects.filter(action="decisions.person_language_changed").count() == 1
    log_out(page)

    # Another browser, no cookie, asking for Japanese: signed in, it is English.
    fresh = japanese_browser()
    fresh.goto("/admin/login/")
    expect(fresh.locator("html")).to_have_attribute("lang", "ja")  # not signed in yet
    admin_log_in(fresh, "alice", "pw-alice-123")
    expect(fresh.locator("html")).to_have_attribute("lang", "en")
    expect(fresh.locator("#userlink-notifications")).to_have_text(said("Notifications", "en"))


def test_the_header_switch_follows_the_person_to_another_browser(japanese_browser, alice):
    page = japanese_browser()
    admin_log_in(page, "alice", "pw-alice-123")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.locator("#language-switch button[value=en]").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert person_language(user_id=alice.pk) == "en"

    fresh = japanese_browser()
    admin_log_in(fresh, "alice", "pw-alice-123")
    expect(fresh.locator("html")).to_have_attribute("lang", "en")
    # And back to Japanese from there: the profile follows the switch.
    fresh.locator("#language-switch button[value=ja]").click()
    expect(fresh.locator("html")).to_have_attribute("lang", "ja")
    assert person_language(user_id=alice.pk) == "ja"
