"""The home page in a real browser (Debian's Chromium through Playwright against the
live server), as a person uses it: log in and land on the home page, approve a decision
from "Needs you", pause and resume the studio, switch to English and back to Japanese
reading the headings in each; a staff member who is not a superuser sees no System."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from decisions.models import Decision
from goals import home
from goals.models import LoopState
from goals.services.loop import LoopControlBusy, loop_start
from tests.goals.home_setup import decision_pending

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

JA_HEADINGS = ["あなたの対応待ち", "目標", "スタジオ", "ワークフロー", "システム"]
EN_HEADINGS = ["Needs you", "Goals", "Studio", "Workflows", "System"]


def _log_in(page: Page, username: str, password: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/$"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))


def _headings(page: Page) -> list[str]:
    return [text.strip() for text in page.locator(".home-section > h2").all_inner_texts()]


def test_a_person_answers_a_decision_runs_the_studio_and_switches_language(page_ja, alice, theme):
    decision = decision_pending(title="Refund the angry customer")
    loop_start()
    page = page_ja

    _log_in(page, "alice", "pw-alice-123")
    expect(page.locator("#home-needs-you > h2")).to_have_text("あなたの対応待ち")
    expect(page.locator(".home-section > h2")).to_have_text(JA_HEADINGS)
    page.evaluate("window.__sameDocument = true")

    card = page.locator(f"#decision-{decision.pk}")
    expect(card).to_contain_text("Refund the angry customer")
    card.get_by_role("button", name="「Refund the angry customer」を承認").click()
    expect(page.locator(f"#decision-{decision.pk}")).to_have_attribute("data-decided", "approved")

    studio = page.locator("#home-studio")
    studio.get_by_role("button", name="一時停止").click()
    expect(studio.get_by_role("button", name="再開")).to_be_visible()
    assert LoopState.objects.get().state == LoopState.State.PAUSED
    studio.get_by_role("button", name="再開").click()
    expect(studio.get_by_role("button", name="一時停止")).to_be_visible()
    assert LoopState.objects.get().state == LoopState.State.RUNNING
    assert page.evaluate("window.__sameDocument === true"), "the page reloaded"

    page.locator("#language-switch").get_by_role("button", name="English").click()
    expect(page.locator("#home-needs-you > h2")).to_have_text("Needs you")
    expect(page.locator(".home-section > h2")).to_have_text(EN_HEADINGS)
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.locator("#language-switch").get_by_role("button", name="日本語").click()
    expect(page.locator(".home-section > h2")).to_have_text(JA_HEADINGS)

    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPROVED


def test_a_staff_member_who_is_not_a_superuser_sees_no_system(page_ja, bob):
    _log_in(page_ja, "bob", "pw-bob-123")
    expect(page_ja.locator("#home-studio > h2")).to_have_text("スタジオ")
    expect(page_ja.locator("#home-system")).to_have_count(0)
    assert "システム" not in _headings(page_ja)


def test_a_studio_button_the_busy_database_refused_says_so_in_place(
    page_ja, alice, theme, monkeypatch
):
    """The database stayed write-locked for the whole bounded wait (``LoopControlBusy``,
    raised here by the service): the section says, in Japanese, that nothing changed and
    to try again, and the studio runs on."""

    def busy(**_):
        raise LoopControlBusy("the database stayed locked by other writers for 120 s")

    loop_start()
    monkeypatch.setattr(home, "loop_pause", busy)
    _log_in(page_ja, "alice", "pw-alice-123")
    studio = page_ja.locator("#home-studio")
    studio.get_by_role("button", name="一時停止").click()
    expect(studio).to_contain_text("スタジオは変更されていません")
    expect(studio.get_by_role("button", name="一時停止")).to_be_visible()
    assert LoopState.objects.get().state == LoopState.State.RUNNING
