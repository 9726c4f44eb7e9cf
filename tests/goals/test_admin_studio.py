"""The studio page: the loop's buttons, a snapshot now and the latest one as a page, a
budget from the active theme's constraints; each audited under the person, each refused
with the missing permission named."""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from decisions.models import AuditEvent, Budget
from goals import admin_studio
from goals.models import LoopState
from goals.services import loop_state_get
from goals.services.loop import LoopControlBusy
from ideas.models import Snapshot, Theme
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db

STUDIO = "admin:goals_studio"


def _with_budget(theme: Theme, period: str) -> Theme:
    theme.config["constraints"]["budget"] = {"amount": 3000000, "currency": "JPY", "period": period}
    theme.save()
    return theme


def _audited(action: str, actor) -> int:
    return AuditEvent.objects.filter(action=action, actor=actor).count()


def test_start_pause_resume_stop_go_through_the_loop_services(client, alice, theme):
    client.force_login(alice)
    page = client.get(reverse(STUDIO)).content.decode()
    assert 'value="Start"' in page and 'value="Pause"' not in page
    for action, state, audit in (
        ("start", LoopState.State.RUNNING, "goals.loop_started"),
        ("pause", LoopState.State.PAUSED, "goals.loop_paused"),
        ("resume", LoopState.State.RUNNING, "goals.loop_resumed"),
        ("stop", LoopState.State.STOPPED, "goals.loop_stopped"),
    ):
        response = client.post(reverse(f"admin:goals_studio_{action}"), follow=True)
        assert loop_state_get().state == state, action
        assert _audited(audit, alice) == 1, action
        assert f"The studio is {loop_state_get().get_state_display().lower()}" in (
            response.content.decode()
        )


def test_the_pause_button_shows_only_when_the_loop_runs(client, alice, theme):
    client.force_login(alice)
    client.post(reverse("admin:goals_studio_start"))
    page = client.get(reverse(STUDIO)).content.decode()
    assert 'value="Pause"' in page and 'value="Start"' not in page


def test_starting_without_a_theme_says_why_and_writes_nothing(client, alice):
    client.force_login(alice)
    before = AuditEvent.objects.count()
    response = client.post(reverse("admin:goals_studio_start"), follow=True)
    assert "The studio did not start" in response.content.decode()
    assert loop_state_get().state == LoopState.State.STOPPED
    assert AuditEvent.objects.count() == before


def test_a_snapshot_now_is_audited_and_read_as_a_safe_page(client, alice, theme):
    IdeaFactory(theme=theme, title="<script>alert(1)</script> Mochi mug")
    client.force_login(alice)
    response = client.post(reverse("admin:goals_studio_snapshot"), follow=True)
    snapshot = Snapshot.objects.get()
    assert _audited("ideas.snapshot_created", alice) == 1
    page = response.content.decode()
    assert "Snapshot taken at iteration 0" in page
    assert "<h1>Portfolio snapshot" in page  # Markdown rendered, not shown as source
    assert "<table>" in page
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Mochi mug" in page

    # Again with no iteration since: the same snapshot, said so.
    response = client.post(reverse("admin:goals_studio_snapshot"), follow=True)
    assert Snapshot.objects.get() == snapshot
    assert "No iteration since the last snapshot" in response.content.decode()


def test_a_quarterly_budget_is_created_from_the_theme(client, alice, theme):
    _with_budget(theme, "quarter")
    client.force_login(alice)
    page = client.get(reverse(STUDIO)).content.decode()
    assert "The theme plans 3000000 JPY per quarter." in page
    response = client.post(reverse("admin:goals_studio_budget"), follow=True)
    budget = Budget.objects.get()
    assert (budget.period, budget.limit, budget.currency) == ("quarterly", 3000000, "JPY")
    assert budget.scope_type == ContentType.objects.get_for_model(Theme)
    assert budget.scope_id == theme.pk
    assert _audited("decisions.budget_created", alice) == 1
    assert "Already created" in response.content.decode()

    response = client.post(reverse("admin:goals_studio_budget"), follow=True)
    assert "already has an active quarterly" in response.content.decode()
    assert Budget.objects.count() == 1


def test_a_theme_period_budgets_do_not_have_is_refused_in_words(client, alice, theme):
    _with_budget(theme, "year")
    client.force_login(alice)
    response = client.post(reverse("admin:goals_studio_budget"), follow=True)
    assert "A budget per year cannot be created yet" in response.content.decode()
    assert Budget.objects.count() == 0


def test_each_control_is_refused_without_its_permission_with_the_reason(
    client, bob, charlie, theme
):
    client.force_login(bob)  # bob may run the loop, not take snapshots or create budgets
    assert client.post(reverse("admin:goals_studio_start")).status_code == 302
    for name, permission in (
        ("admin:goals_studio_snapshot", "ideas.add_snapshot"),
        ("admin:goals_studio_budget", "decisions.add_budget"),
    ):
        response = client.post(reverse(name))
        assert response.status_code == 403
        assert permission in response.content.decode()
    assert Snapshot.objects.count() == 0 and Budget.objects.count() == 0

    client.force_login(charlie)  # staff, no goals permission
    state = loop_state_get().state
    for name, permission in ((STUDIO, "goals.view_loopstate"),):
        response = client.get(reverse(name))
        assert response.status_code == 403
        assert permission in response.content.decode()
    response = client.post(reverse("admin:goals_studio_stop"))
    assert response.status_code == 403
    assert "goals.change_loopstate" in response.content.decode()
    assert loop_state_get().state == state


def test_the_actions_refuse_a_get(client, alice, theme):
    client.force_login(alice)
    for action in ("start", "stop", "pause", "resume", "snapshot", "budget"):
        assert client.get(reverse(f"admin:goals_studio_{action}")).status_code == 405
    assert loop_state_get().state == LoopState.State.STOPPED


def test_a_change_the_busy_database_refused_is_reported_not_claimed(
    client, alice, theme, monkeypatch
):
    def busy(**_):
        raise LoopControlBusy("the database stayed locked by other writers for 120 s")

    monkeypatch.setattr(admin_studio, "loop_start", busy)
    client.force_login(alice)
    page = client.post(reverse("admin:goals_studio_start"), follow=True).content.decode()
    assert "The studio was not changed: the database stayed busy" in page
    assert "The studio is" not in page
    assert loop_state_get().state != LoopState.State.RUNNING
