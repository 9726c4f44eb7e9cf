"""The charts in a real browser (Debian's Chromium through Playwright against the live
server), as a person uses them: log in, see the studio's charts on the home page, open
the table under a chart and read a figure that matches the data; open the approval queue
and read how long decisions took."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tests.browser import admin_log_in
from tests.goals.charts_setup import decided_after, ideas_on, tokens_on
from tests.goals.home_setup import decision_pending

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_reads_the_studio_charts_and_their_tables(page: Page, alice, theme):
    today = timezone.localdate()
    ideas_on(today, theme=theme, scores=[6.0, 7.0, 8.0])
    ideas_on(today - dt.timedelta(days=2), theme=theme, scores=[3.0])
    tokens_on(today, theme=theme, tokens=[1200, 34])

    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/")

    studio = page.locator("#home-studio")
    ideas_chart = studio.get_by_role(
        "img", name=re.compile("Ideas created per day .* average scores")
    )
    expect(ideas_chart).to_be_visible()
    expect(studio.get_by_role("img", name=re.compile("Tokens spent per day"))).to_be_visible()

    table = studio.locator("#home-ideas-table")
    expect(table).to_be_hidden()
    studio.get_by_text("Ideas per day as a table").click()
    expect(table).to_be_visible()
    row = table.locator(f'tr[data-day="{today.isoformat()}"]')
    expect(row.locator("td")).to_have_text(["3", "7.0", "7.0", "7.0"])
    two_days_ago = (today - dt.timedelta(days=2)).isoformat()
    expect(table.locator(f'tr[data-day="{two_days_ago}"] td.ideas-created')).to_have_text("1")

    studio.get_by_text("Tokens per day as a table").click()
    tokens_row = studio.locator(f'#home-tokens-table tr[data-day="{today.isoformat()}"]')
    expect(tokens_row.locator("td.tokens-spent")).to_have_text("1234")
    expect(tokens_row.locator("td").nth(1)).to_have_text(str(theme.daily_token_budget))

    # The section swaps itself (a button here, the poll every 15 s): the charts and the
    # tables the person opened stay as they were.
    studio.get_by_role("button", name="Start").click()
    expect(studio.get_by_role("button", name="Pause")).to_be_visible()
    expect(table).to_be_visible()
    expect(row.locator("td.ideas-created")).to_have_text("3")


def test_a_person_reads_how_long_decisions_took_on_the_approval_queue(page: Page, alice):
    today = timezone.localdate()
    for hours in (2, 4, 30):
        decided_after(hours, on=today, by=alice, title=f"answered after {hours} h")
    decision_pending(title="Still waiting")  # the home page links to the queue

    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/")
    page.get_by_role("link", name="All decisions waiting").click()
    expect(page).to_have_url(re.compile(r"/admin/decisions/decision/queue/$"))

    charts = page.locator("#decision-charts")
    expect(charts.get_by_role("heading", name="Charts")).to_be_visible()
    expect(charts.get_by_role("img", name=re.compile("Median hours to decide"))).to_be_visible()
    charts.get_by_text("Time taken to decide as a table").click()
    monday = today - dt.timedelta(days=today.weekday())
    row = charts.locator(f'#decide-table tr[data-week="{monday.isoformat()}"]')
    expect(row.locator("td")).to_have_text(["3", "4.0"])
