"""A theme switch pauses a working loop wherever it is made: the admin's Activate as
``newtheme`` does (goals registers the guard with ideas at start-up)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

import ideas.admin_themes as admin_themes
from decisions.models import AuditEvent
from goals.models import LoopState
from goals.services import loop_pause, loop_start, loop_state_get
from ideas.models import Theme
from ideas.services import theme_activate_from_files

pytestmark = pytest.mark.django_db

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "ideas" / "example_theme"


def _running_loop(django_capture_on_commit_callbacks) -> None:
    theme_activate_from_files(
        ip_profile_path=EXAMPLE_DIR / "ip_profile.json", config_path=EXAMPLE_DIR / "config.json"
    )
    with django_capture_on_commit_callbacks():
        loop_start()
    assert loop_state_get().state == LoopState.State.RUNNING


def _draft(client) -> Theme:
    config = json.loads((EXAMPLE_DIR / "config.json").read_text(encoding="utf-8"))
    config["iteration_policy"]["explore_ratio"] = 0.2
    client.post(
        reverse("admin:ideas_theme_upload"),
        {
            "ip_profile": SimpleUploadedFile(
                "ip_profile.json", (EXAMPLE_DIR / "ip_profile.json").read_bytes()
            ),
            "config": SimpleUploadedFile("config.json", json.dumps(config).encode()),
        },
    )
    return Theme.objects.get(status=Theme.Status.DRAFT)


def _observe(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = admin_themes.theme_activate

    def observe(**kwargs):
        seen.append(loop_state_get().state)
        return real(**kwargs)

    monkeypatch.setattr(admin_themes, "theme_activate", observe)
    return seen


def test_activating_in_the_admin_pauses_a_running_loop_and_resumes_it(
    client, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    _running_loop(django_capture_on_commit_callbacks)
    client.force_login(admin_user)
    draft = _draft(client)
    seen = _observe(monkeypatch)

    with django_capture_on_commit_callbacks():
        client.post(reverse("admin:ideas_theme_activate", args=[draft.pk]))

    assert seen == [LoopState.State.PAUSED]
    assert loop_state_get().state == LoopState.State.RUNNING
    draft.refresh_from_db()
    assert draft.status == Theme.Status.ACTIVE
    actions = list(
        AuditEvent.objects.filter(action__in=["goals.loop_paused", "goals.loop_resumed"])
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["goals.loop_paused", "goals.loop_resumed"]


def test_a_paused_loop_stays_paused_through_an_admin_switch(
    client, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    _running_loop(django_capture_on_commit_callbacks)
    loop_pause(reason="a person paused it")
    client.force_login(admin_user)
    draft = _draft(client)
    seen = _observe(monkeypatch)

    client.post(reverse("admin:ideas_theme_activate", args=[draft.pk]))

    assert seen == [LoopState.State.PAUSED]
    state = loop_state_get()
    assert (state.state, state.reason) == (LoopState.State.PAUSED, "a person paused it")
