"""A person opens the ideas list in headless Chromium, reads a summary and the score
badges, reviews one idea with its button and archives another, and sees each change."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from ideas.models import Idea
from tests.browser import admin_log_in
from tests.ideas.factories import IdeaFactory, ThemeFactory
from tests.personas import person_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_reviews_one_idea_and_archives_another_from_the_list(page):
    person_create("erin", permissions=["ideas.view_idea", "ideas.change_idea"])
    theme = ThemeFactory()
    tea = IdeaFactory(
        theme=theme,
        title="Tea club",
        summary="Monthly tea tasting for tired office workers",
        brand_fit=7.0,
        novelty=6.0,
        feasibility=8.0,
        human_novelty=9.0,
        priority=9.0,
    )
    socks = IdeaFactory(theme=theme, title="Sock of the month", priority=1.0)

    admin_log_in(page, "erin", "pw-erin-123")
    page.locator("#content-main").get_by_role("link", name="Ideas", exact=True).click()
    tea_row = page.locator("#result_list tr", has_text="Tea club")
    expect(tea_row).to_contain_text("Monthly tea tasting for tired office workers")
    expect(tea_row).to_contain_text("brand fit 7")
    expect(tea_row.locator(".idea-badge-human")).to_have_text("novelty 9 ✎ (6)")
    socks_row = page.locator("#result_list tr", has_text="Sock of the month")
    expect(socks_row).to_contain_text("waiting for the critic")

    tea_row.get_by_role("button", name="Review").click()
    expect(page.locator(".messagelist")).to_contain_text("“Tea club” marked reviewed.")
    tea_row = page.locator("#result_list tr", has_text="Tea club")
    expect(tea_row).to_contain_text("Reviewed")
    expect(tea_row.get_by_role("button", name="Review")).to_have_count(0)

    page.locator("#result_list tr", has_text="Sock of the month").get_by_role(
        "button", name="Archive"
    ).click()
    expect(page.locator(".messagelist")).to_contain_text("“Sock of the month” archived.")
    socks_row = page.locator("#result_list tr", has_text="Sock of the month")
    expect(socks_row).to_contain_text("Archived")
    expect(socks_row.get_by_role("button")).to_have_count(0)

    tea.refresh_from_db()
    socks.refresh_from_db()
    assert (tea.status, socks.status) == (Idea.Status.REVIEWED, Idea.Status.ARCHIVED)
