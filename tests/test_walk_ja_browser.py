"""The new staff member's walk, in Japanese, in headless Chromium (Debian's chromium via
Playwright, against the live server), as a person does it: a superuser adds the person
on the admin's user pages, the person logs in on the Japanese login page, loads the
example theme from its two files, previews and activates it, starts the studio from the
home page, answers a decision from "Needs you", opens an active goal and reads its
chart and figures, switches to English and back.

What a person reads is asked of the catalogue under ``ja`` (``tests.walk_ja.ja``), so the
test holds as translations land; strings main already translates must not read as the
English (``ja_translated``)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.utils import translation
from playwright.sync_api import Page, expect

from decisions.models import Decision
from goals.models import Goal, LoopState
from ideas.models import Theme
from ideas.theme_files import EXAMPLE_DIR
from tests.goals.home_setup import decision_pending, goal_behind
from tests.walk_ja import is_japanese, ja, ja_translated

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

#: What the new staff member's group may do: steer the studio and its themes, answer
#: decisions, read goals.
STAFF_PERMISSIONS = (
    ("ideas", "view_theme"),
    ("ideas", "add_theme"),
    ("ideas", "change_theme"),
    ("ideas", "view_snapshot"),
    ("goals", "view_loopstate"),
    ("goals", "change_loopstate"),
    ("goals", "view_goal"),
    ("goals", "view_planrevision"),
    ("decisions", "view_decision"),
    ("decisions", "approve_decision"),
)


@pytest.fixture
def staff_group(db) -> Group:
    group = Group.objects.create(name="Studio staff")
    for app_label, codename in STAFF_PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return group


def _log_in(page: Page, username: str, password: str) -> None:
    """The Japanese login page, then the home page."""
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/$"))
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("#site-name")).to_be_visible()
    expect(page.locator("input[type=submit]")).to_have_value(ja_translated("Log in"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    expect(page).to_have_url(re.compile(r"/$"))


def _user_label(msgid: str) -> str:
    with translation.override("ja"):
        return str(User._meta.get_field(msgid).verbose_name)


def _add_staff_member(page: Page, group: Group) -> User:
    """The superuser adds dana on the admin's (Japanese) user pages."""
    page.goto("/admin/")
    users_link = page.locator("#content-main a[href='/admin/auth/user/']").first
    with translation.override("ja"):
        users_name = str(User._meta.verbose_name_plural)
    expect(users_link).to_have_text(re.compile(re.escape(users_name), re.I))
    users_link.click()
    page.locator(".object-tools a.addlink").click()
    with translation.override("ja"):
        add_title = translation.gettext("Add %s") % User._meta.verbose_name
    expect(page.locator("h1")).to_have_text(add_title)
    assert is_japanese(add_title)
    page.fill("#id_username", "dana")
    page.fill("#id_password1", "pw-dana-123-long")
    page.fill("#id_password2", "pw-dana-123-long")
    page.locator("input[name=_save]").click()

    # Django takes the new user to its change page: staff status and the group.
    dana = User.objects.get(username="dana")
    expect(page).to_have_url(re.compile(rf"/admin/auth/user/{dana.pk}/change/"))
    expect(page.get_by_label(_user_label("is_staff"))).to_be_visible()
    page.get_by_label(_user_label("is_staff")).check()
    page.select_option("#id_groups_from", label=group.name)
    page.locator("#id_groups_add").click()
    page.locator("input[name=_save]").click()
    expect(page.locator(".messagelist")).to_contain_text("dana")
    dana.refresh_from_db()
    assert dana.is_staff and not dana.is_superuser
    assert list(dana.groups.all()) == [group]
    return dana


def _log_out(page: Page) -> None:
    page.locator("#logout-form button").click()
    expect(page.locator("h1")).to_have_text(ja_translated("Logged out"))


def _file(name: str) -> dict:
    return {
        "name": name,
        "mimeType": "application/json",
        "buffer": (EXAMPLE_DIR / name).read_bytes(),
    }


def _load_theme(page: Page) -> Theme:
    """From the admin index to the theme upload page; preview, then activate."""
    page.goto("/admin/")
    page.locator("#content-main a[href='/admin/ideas/theme/']").first.click()
    page.get_by_role("link", name=ja("Load a theme from files")).click()
    page.get_by_label(ja("IP profile file (JSON)")).set_input_files(_file("ip_profile.json"))
    page.get_by_label(ja("Project config file (JSON)")).set_input_files(_file("config.json"))
    page.get_by_role("button", name=ja("Check and preview")).click()
    expect(page.locator("#theme-brand")).to_contain_text("もちうさ (Mochiusa)")
    page.get_by_role("button", name=ja("Activate this theme")).click()
    theme = Theme.objects.get()
    expect(page.locator(".messagelist")).to_contain_text(
        ja("%(name)s is now the active theme.") % {"name": theme.name}
    )
    assert theme.status == Theme.Status.ACTIVE
    return theme


def _state_label(state: LoopState.State) -> str:
    with translation.override("ja"):
        return str(state.label)


def test_a_new_staff_member_walks_the_back_office_in_japanese(page_ja: Page, staff_group):
    User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    title = "返金するか決める"
    decision = decision_pending(title=title)
    goal = goal_behind(text="今月の売上を100万円にする")
    page = page_ja

    # The superuser adds the new staff member, in Japanese.
    _log_in(page, "root", "pw-root-123")
    expect(page.locator("#home-needs-you > h2")).to_have_text(ja_translated("Needs you"))
    _add_staff_member(page, staff_group)
    _log_out(page)

    # The new person logs in on the Japanese login page and loads the example theme.
    _log_in(page, "dana", "pw-dana-123-long")
    expect(page.locator("#home-studio > h2")).to_have_text(ja_translated("Studio"))
    theme = _load_theme(page)

    # The studio, started from the home page: the section reads as running.
    page.goto("/")
    studio = page.locator("#home-studio")
    expect(studio).to_contain_text(theme.name)
    studio.get_by_role("button", name=ja_translated("Start")).click()
    expect(page.locator("#home-loop-state")).to_have_text(_state_label(LoopState.State.RUNNING))
    expect(studio.get_by_role("button", name=ja_translated("Pause"))).to_be_visible()
    assert LoopState.objects.get().state == LoopState.State.RUNNING

    # The decision, answered from "Needs you".
    card = page.locator(f"#decision-{decision.pk}")
    expect(card).to_contain_text(title)
    card.get_by_role("button", name=ja("Approve “%(title)s”") % {"title": title}).click()
    expect(page.locator(f"#decision-{decision.pk}")).to_have_attribute("data-decided", "approved")
    decision.refresh_from_db()
    assert decision.status == Decision.Status.APPROVED
    assert decision.decided_by.username == "dana"

    # The goal, from the Goals section: its chart and the figures under it.
    # The goal's name (its small chart beside it leads to the same page's chart).
    page.locator("#home-goals a:not([href*='#'])", has_text="今月の売上").click()
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    goal_title = ja("Goal #%(id)s") % {"id": goal.pk}
    expect(page.locator("h1")).to_have_text(goal_title)
    with translation.override("ja"):
        metric = str(Goal(metric="revenue").get_metric_display())
    chart = page.get_by_role("img", name=ja("%(metric)s: actual vs target") % {"metric": metric})
    expect(chart).to_be_visible()
    expect(page.locator("h2", has_text=ja("Progress"))).to_be_visible()
    figures = page.locator("#goal-progress-figures tr")
    expect(figures.first).to_be_visible()
    assert figures.count() >= 2

    # English with the header switch: the same page, in English; and back.
    page.locator("#language-switch").get_by_role("button", name="English").click()
    expect(page).to_have_url(re.compile(rf"/admin/goals/goal/{goal.pk}/change/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text(f"Goal #{goal.pk}")
    expect(page.get_by_role("img", name="Revenue: actual vs target")).to_be_visible()
    expect(page.locator("h2", has_text="Progress")).to_be_visible()

    page.locator("#language-switch").get_by_role("button", name="日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator("h1")).to_have_text(goal_title)
    expect(page.locator("h2", has_text=ja("Progress"))).to_be_visible()
