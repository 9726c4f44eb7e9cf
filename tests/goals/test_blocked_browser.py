"""Blocked work in a real browser: Debian's Chromium through Playwright against
pytest-django's live server. A person logs in, sees the blocked tasks first thing on
the admin index, retries one and drops the other in place, without a page reload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from goals.models import Task
from tests.goals.factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"  # Debian's package; a browser is never downloaded
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def browser(monkeypatch) -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls
    # are plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url)
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


def _blocked(theme, reason: str) -> Task:
    return TaskFactory(
        theme=theme,
        status=Task.Status.BLOCKED,
        attempts=3,
        last_error=reason,
        finished_at=timezone.now(),
    )


def test_a_person_retries_and_drops_blocked_work_in_place(page, alice, theme):
    first = _blocked(theme, "schema_violation: the answer had no ideas")
    second = _blocked(theme, "its worker died 5 times (last: host:12:ab)")

    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-123")
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/admin/$"))

    section = page.locator("#blocked-work")
    expect(section).to_contain_text("Blocked work: needs you")
    rows = section.locator(".blocked-task")
    expect(rows).to_have_count(2)
    row = page.locator(f"#blocked-task-{first.pk}")
    expect(row).to_contain_text("Generate")
    expect(row).to_contain_text(theme.name)
    expect(row).to_contain_text("schema_violation: the answer had no ideas")
    page.evaluate("window.__sameDocument = true")

    row.get_by_role("button", name=f"Retry task {first.pk}").click()
    expect(page.locator(f"#blocked-task-{first.pk}")).to_have_count(0)
    expect(page.locator("#blocked-work")).to_contain_text(f"task {first.pk} is back in the queue")
    expect(page.locator("#blocked-work .blocked-task")).to_have_count(1)

    page.locator(f"#blocked-task-{second.pk}").get_by_role(
        "button", name=f"Drop task {second.pk}"
    ).click()
    expect(page.locator("#blocked-work .blocked-task")).to_have_count(0)
    expect(page.locator("#blocked-work")).to_contain_text("Nothing is blocked any more")
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (Task.Status.READY, 0)
    assert second.status == Task.Status.DROPPED
