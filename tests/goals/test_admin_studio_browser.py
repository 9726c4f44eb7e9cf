"""A new staff member steers the studio in headless Chromium, without a shell: loads the
example theme from its files (a broken file's errors first), previews and activates it,
starts and pauses the studio, takes a snapshot and reads it, creates the quarterly budget."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from decisions.models import Budget
from goals import admin_studio
from goals.models import LoopState
from goals.services import loop_start, loop_state_get
from goals.services.loop import LoopControlBusy
from ideas.models import Theme
from ideas.theme_files import EXAMPLE_DIR
from tests.browser import admin_log_in
from tests.personas import person_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEERING = (
    "ideas.view_theme",
    "ideas.add_theme",
    "ideas.change_theme",
    "ideas.view_snapshot",
    "ideas.add_snapshot",
    "goals.view_loopstate",
    "goals.change_loopstate",
    "decisions.view_budget",
    "decisions.add_budget",
)


def _file(name: str, data: bytes) -> dict:
    return {"name": name, "mimeType": "application/json", "buffer": data}


def test_a_new_staff_member_loads_a_theme_and_steers_the_studio(page):
    person_create("dana", permissions=STEERING)
    profile = (EXAMPLE_DIR / "ip_profile.json").read_bytes()
    config = (EXAMPLE_DIR / "config.json").read_bytes()
    broken = json.loads(config)
    broken["iteration_policy"]["explore_ratio"] = 1.5
    del broken["constraints"]["budget"]["currency"]

    admin_log_in(page, "dana", "pw-dana-123")
    page.locator("#content-main").get_by_role("link", name=re.compile("^Themes$")).click()
    page.get_by_role("link", name="Load a theme from files").click()

    # A broken config first: every problem, under its file, in words; nothing saved.
    page.get_by_label("IP profile file (JSON)").set_input_files(_file("ip_profile.json", profile))
    page.get_by_label("Project config file (JSON)").set_input_files(
        _file("config.json", json.dumps(broken).encode())
    )
    page.get_by_role("button", name="Check and preview").click()
    expect(page.locator("#theme-error-summary")).to_contain_text("2 problems")
    config_errors = page.locator("#theme-field-config .errorlist")
    expect(config_errors).to_contain_text(
        "Project config › Iteration policy › Share of work on new directions"
    )
    expect(config_errors).to_contain_text("Project config › Constraints › Budget › Currency")
    expect(page.locator("#theme-field-ip_profile .errorlist")).to_have_count(0)
    assert Theme.objects.count() == 0

    # The real files: a preview to read, then activate.
    page.get_by_label("IP profile file (JSON)").set_input_files(_file("ip_profile.json", profile))
    page.get_by_label("Project config file (JSON)").set_input_files(_file("config.json", config))
    page.get_by_role("button", name="Check and preview").click()
    expect(page.locator("#theme-brand")).to_contain_text("もちうさ (Mochiusa)")
    expect(page.locator("#theme-taboos table")).to_contain_text("horror and gore")
    expect(page.locator("#theme-budget")).to_contain_text("3000000 JPY per quarter")
    page.get_by_role("button", name="Activate this theme").click()
    expect(page.locator(".messagelist")).to_contain_text("is now the active theme")
    assert Theme.objects.get().status == Theme.Status.ACTIVE

    # The studio: start, pause.
    page.goto("/admin/")
    page.locator("#content-main").get_by_role("link", name=re.compile("^Loop", re.I)).first.click()
    page.locator("#studio-link").click()
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#studio-state")).to_contain_text("Running")
    page.get_by_role("button", name="Pause").click()
    expect(page.locator("#studio-state")).to_contain_text("Paused")
    assert loop_state_get().state == LoopState.State.PAUSED

    # A snapshot now, read as a page.
    page.get_by_role("button", name="Take a snapshot now").click()
    expect(page.locator(".snapshot-body h1")).to_contain_text("Portfolio snapshot")
    page.get_by_role("link", name="Back to the studio").click()

    # The theme's quarterly budget.
    page.get_by_role("button", name=re.compile("Create the budget \\(Quarterly")).click()
    expect(page.locator(".messagelist")).to_contain_text("Budget created")
    expect(page.locator("#studio-budget-existing")).to_contain_text("quarterly")
    assert Budget.objects.get().period == "quarterly"


def test_a_studio_button_the_busy_database_refused_is_reported(page, theme, monkeypatch):
    """``LoopControlBusy`` (raised here by the service): the studio page says nothing
    changed and to try again, and still shows the loop running."""

    def busy(**_):
        raise LoopControlBusy("the database stayed locked by other writers for 120 s")

    person_create("dana", permissions=STEERING)
    loop_start()
    monkeypatch.setattr(admin_studio, "loop_pause", busy)
    admin_log_in(page, "dana", "pw-dana-123")
    page.goto(reverse("admin:goals_studio"))
    page.get_by_role("button", name="Pause").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "The studio was not changed: the database stayed busy"
    )
    expect(page.locator("#studio-state")).to_contain_text("Running")
    assert loop_state_get().state == LoopState.State.RUNNING
