"""Blocked work in a real browser: Debian's Chromium through Playwright against
pytest-django's live server. A person logs in, sees the blocked tasks first thing on
the admin index, retries one and drops the other in place, without a page reload."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from goals.models import Task
from tests.browser import admin_log_in
from tests.goals.factories import TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


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

    admin_log_in(page, "alice", "pw-alice-123")

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
