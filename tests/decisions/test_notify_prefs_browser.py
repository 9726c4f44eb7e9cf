"""The Notifications page in headless Chromium, as a person uses it: from the admin's
user menu, change a choice, save, see it saved; Telegram is offered only once their
account is linked, and then a Telegram choice saves too."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from decisions.models import AuditEvent
from decisions.services.notify_prefs import notify_prefs_get
from decisions.services.telegram import telegram_link_bind, telegram_link_token_issue
from tests.browser import admin_log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_person_changes_their_preferences_and_telegram_once_linked(page, telegram, alice):
    admin_log_in(page, "alice", "pw-alice-123")
    page.locator("#user-tools").get_by_role("link", name="Notifications").click()
    expect(page.locator("#notify-telegram-state")).to_contain_text("Telegram is not offered")
    outcome = page.get_by_label("Decision outcome")
    expect(outcome.locator("option[value=telegram]")).to_be_disabled()
    outcome.select_option("none")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.locator(".messagelist")).to_contain_text("Your notification preferences are saved.")
    expect(page.get_by_label("Decision outcome")).to_have_value("none")
    assert notify_prefs_get(user=alice)["outcome"] == "none"
    assert AuditEvent.objects.filter(action="decisions.notify_prefs_changed").count() == 1

    # Linked (as the bot would bind it): the page offers Telegram.
    telegram_link_bind(
        token=telegram_link_token_issue(user=alice), telegram_user_id=5151, chat_id=5151
    )
    page.reload()
    expect(page.locator("#notify-telegram-state")).to_contain_text("is linked")
    page.get_by_label("Goal reports").select_option("telegram")
    page.get_by_label("Goal anomalies").select_option("telegram")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.locator(".messagelist")).to_contain_text("saved")
    expect(page.get_by_label("Goal reports")).to_have_value("telegram")
    prefs = notify_prefs_get(user=alice)
    assert (prefs["goal_report"], prefs["anomaly"], prefs["outcome"]) == (
        "telegram",
        "telegram",
        "none",
    )
