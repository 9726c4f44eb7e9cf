"""Headless Chromium for the tests that do what a person does (a pytest plugin).

Debian's ``/usr/bin/chromium`` driven by Playwright against pytest-django's live server;
a browser is never downloaded. Every request the page makes beyond loopback is refused
and fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def browser(monkeypatch) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running in this thread, and Django
    # refuses ORM calls from a thread with a running loop; the test's own queries are
    # plain synchronous ones, so let them through.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@contextmanager
def page_open(browser: Browser, base_url: str, *, locale: str | None = None) -> Iterator[Page]:
    """A page in a fresh browser context (no cookie, no session) on ``base_url``, asking
    for ``locale``'s language first when given; a request beyond loopback is refused and
    fails the test when the context closes."""
    context = browser.new_context(base_url=base_url, locale=locale)
    context.set_default_timeout(15_000)
    outside: list[str] = []

    def loopback_only(route: Route) -> None:
        if urlparse(route.request.url).hostname in LOOPBACK:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", loopback_only)
    yield context.new_page()
    context.close()
    assert outside == [], "the admin tried to reach beyond loopback"


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    with page_open(browser, live_server.url) as opened:
        yield opened


@pytest.fixture
def page_ja(browser: Browser, live_server) -> Iterator[Page]:
    """A browser that asks for Japanese first, as the users' browsers do."""
    with page_open(browser, live_server.url, locale="ja-JP") as opened:
        yield opened


def admin_log_in(page: Page, username: str, password: str) -> None:
    """Log in through the admin's own form, as a person does."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))
