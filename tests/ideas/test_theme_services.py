"""Theme activation, archiving and the frozen IP profile."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from ideas.models import IPProfile, Theme
from ideas.selectors import theme_active
from ideas.services import (
    IPProfileFrozen,
    ThemeTransitionError,
    ip_profile_update,
    theme_activate,
    theme_activate_from_files,
    theme_archive,
)
from tests.ideas.factories import (
    EXAMPLE_CONFIG,
    EXAMPLE_IP_PROFILE,
    IPProfileFactory,
    ThemeFactory,
    example_profile,
)

pytestmark = pytest.mark.django_db


def test_activation_archives_the_active_theme_and_audits_both(audit_calls):
    old = ThemeFactory()
    new = ThemeFactory(status=Theme.Status.DRAFT, activated_at=None)
    theme_activate(theme=new)
    old.refresh_from_db()
    assert (old.status, new.status) == (Theme.Status.ARCHIVED, Theme.Status.ACTIVE)
    assert theme_active() == new
    actions = [c["action"] for c in audit_calls]
    assert actions == ["ideas.theme_archived", "ideas.theme_activated"]


def test_an_archived_theme_cannot_be_activated_again():
    theme = ThemeFactory(status=Theme.Status.ARCHIVED)
    with pytest.raises(ThemeTransitionError):
        theme_activate(theme=theme)


def test_only_an_active_theme_can_be_archived(audit_calls):
    theme = ThemeFactory()
    theme_archive(theme=theme)
    assert theme.status == Theme.Status.ARCHIVED
    with pytest.raises(ThemeTransitionError):
        theme_archive(theme=theme)
    assert [c["action"] for c in audit_calls] == ["ideas.theme_archived"]


def test_the_database_holds_one_active_theme():
    ThemeFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        ThemeFactory()


def test_a_lost_activation_race_is_refused_cleanly(monkeypatch):
    """If another process activates between our archive and our save, we do not win."""
    new = ThemeFactory(status=Theme.Status.DRAFT, activated_at=None)
    import ideas.services.themes as themes

    real = themes.ip_profile_activate

    def sneak_in(**kwargs):
        ThemeFactory()  # a rival activation lands first
        return real(**kwargs)

    monkeypatch.setattr(themes, "ip_profile_activate", sneak_in)
    with pytest.raises(ThemeTransitionError, match="same time"):
        theme_activate(theme=new)


def test_activation_freezes_the_ip_profile():
    theme = theme_activate_from_files(
        ip_profile_path=EXAMPLE_IP_PROFILE, config_path=EXAMPLE_CONFIG
    )
    assert theme.ip_profile.is_frozen
    assert theme.ip_profile.activated_at is not None


def test_a_frozen_profile_refuses_edits(alice):
    profile = IPProfileFactory()
    with pytest.raises(IPProfileFrozen):
        ip_profile_update(profile=profile, document=example_profile(), actor=alice)
    profile.refresh_from_db()
    assert profile.brand_promise == example_profile()["brand_promise"]


def test_a_draft_profile_can_be_edited(alice, audit_calls):
    profile = IPProfileFactory(status=IPProfile.Status.DRAFT, activated_at=None)
    document = {**example_profile(), "brand_promise": "New promise"}
    ip_profile_update(profile=profile, document=document, actor=alice)
    profile.refresh_from_db()
    assert profile.brand_promise == "New promise"
    assert audit_calls[-1]["action"] == "ideas.ip_profile_updated"


def test_editing_a_profile_needs_permission(charlie):
    profile = IPProfileFactory(status=IPProfile.Status.DRAFT, activated_at=None)
    with pytest.raises(PermissionDenied):
        ip_profile_update(profile=profile, document=example_profile(), actor=charlie)


def test_policy_defaults_fill_gaps():
    theme = ThemeFactory(
        config={"iteration_policy": {"explore_ratio": 0.2, "token_caps": {"critic": 5000}}}
    )
    assert theme.explore_ratio == 0.2
    assert theme.stagnation_window == 3
    assert theme.token_cap("critic") == 5000
    assert theme.token_cap("planner") == 4096
    assert theme.daily_token_budget == 2_000_000
