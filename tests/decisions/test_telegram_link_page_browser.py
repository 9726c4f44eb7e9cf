"""The Link Telegram page in headless Chromium, as a staff member uses it: from the
admin's Governance section to Telegram links, Link Telegram, press the button, see the
t.me link; once the bot bound the account, the page says so and unlinks."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from decisions.models import AuditEvent, TelegramLink
from decisions.services.telegram import telegram_update_handle
from tests.browser import admin_log_in
from tests.decisions.telegram_fake import BOT_USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_staff_member_makes_a_link_opens_it_in_telegram_and_unlinks(page, telegram, bob):
    # bob may not decide, but every staff member may link an account for later.
    admin_log_in(page, "bob", "pw-bob-123")
    page.get_by_role("link", name="Telegram links").click()
    page.locator("#content-main").get_by_role("link", name="Link Telegram").click()
    expect(page.locator("#content-main")).to_contain_text("Not linked yet")
    page.get_by_role("button", name="Make my link").click()

    link = page.locator("#telegram-start-link")
    expect(link).to_have_text(
        re.compile(rf"^https://t\.me/{BOT_USERNAME}\?start=[A-Za-z0-9_-]{{20,64}}$")
    )
    token = link.inner_text().split("start=")[1]

    # What Telegram sends when bob presses Start in the bot's chat.
    update = telegram.start_message(user_id=4242, text=f"/start {token}", username="bob_tg")
    assert telegram_update_handle(update={"update_id": 1, **update}) == "linked"
    page.reload()
    expect(page.locator("#telegram-linked")).to_contain_text("@bob_tg")
    page.get_by_role("button", name="Unlink Telegram").click()
    expect(page.locator(".messagelist")).to_contain_text("Your Telegram account is unlinked.")
    assert not TelegramLink.objects.exists()
    assert AuditEvent.objects.filter(action="decisions.telegram_unlinked").count() == 1
