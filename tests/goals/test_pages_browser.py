"""Goals pages issue 7 and 8 changed, used in headless Chromium as a person uses them:
the loop page says it waits for a theme, and an iteration reached from the list shows
what each of its model calls cost and what was normalised instead of repaired."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from goals.models import Iteration
from goals.services import loop_start
from tests.browser import admin_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_loop_page_says_it_waits_for_a_theme(page, alice, theme):
    loop_start()
    theme.status = "archived"
    theme.save()
    admin_log_in(page, "alice", "pw-alice-123")
    page.locator("#content-main").get_by_role("link", name=re.compile("^Loop$", re.I)).click()
    expect(page.locator("#loop-panel")).to_contain_text("waiting for a theme")


def test_an_iteration_shows_every_calls_tokens(page, alice, theme):
    now = timezone.now()
    Iteration.objects.create(
        theme=theme,
        number=7,
        role="ideator",
        mode="explore",
        outcome="repaired",
        started_at=now,
        finished_at=now,
        prompt_tokens=3101,
        completion_tokens=222,
        model_calls=2,
        calls=[
            {
                "purpose": "main",
                "prompt_tokens": 1500,
                "completion_tokens": 111,
                "cached_tokens": None,
                "attempts": 1,
                "error_class": "schema_violation",
            },
            {
                "purpose": "repair",
                "prompt_tokens": 1601,
                "completion_tokens": 111,
                "cached_tokens": 1488,
                "attempts": 1,
                "error_class": "",
            },
        ],
        normalisations=['$.ideas[0].tags: removed 1 duplicate item ("<tea>")'],
    )
    admin_log_in(page, "alice", "pw-alice-123")
    page.goto("/admin/goals/iteration/")
    page.locator("#result_list").get_by_role("link", name="7", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin/goals/iteration/\d+/change/$"))
    content = page.locator("#content")
    expect(content).to_contain_text("schema_violation")
    expect(content).to_contain_text("1601")
    expect(content).to_contain_text("1488")
    # The model's text is shown as text, never as markup.
    expect(content).to_contain_text('removed 1 duplicate item ("<tea>")')
