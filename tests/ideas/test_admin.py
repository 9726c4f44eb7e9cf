"""The portfolio admin: pages render, writes go through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from ideas.models import Idea, IPProfile
from ideas.services import snapshot_create
from tests.ideas.factories import IdeaFactory, IPProfileFactory, SnapshotFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_alice(client, alice):
    client.force_login(alice)
    return client


def test_the_portfolio_pages_render(admin_client_alice, theme):
    idea = IdeaFactory(theme=theme, tags=["mug"], brand_fit=7.0, human_brand_fit=9.0)
    urls = [
        reverse("admin:ideas_idea_changelist"),
        reverse("admin:ideas_idea_changelist") + "?q=Idea&status=candidate&reviewed=corrected",
        reverse("admin:ideas_idea_change", args=[idea.pk]),
        reverse("admin:ideas_theme_changelist"),
        reverse("admin:ideas_theme_change", args=[theme.pk]),
        reverse("admin:ideas_ipprofile_changelist"),
        reverse("admin:ideas_ipprofile_change", args=[theme.ip_profile.pk]),
        reverse("admin:ideas_idearefusal_changelist"),
        reverse("admin:ideas_snapshot_changelist"),
    ]
    for url in urls:
        response = admin_client_alice.get(url)
        assert response.status_code == 200, url
    changelist = admin_client_alice.get(reverse("admin:ideas_idea_changelist")).content.decode()
    assert "9 ✎ (7)" in changelist


def test_a_snapshot_is_rendered_as_a_page(admin_client_alice, theme):
    IdeaFactory(theme=theme, title="Moon mug <script>alert(1)</script>")
    snapshot = snapshot_create(theme=theme, iteration_count=10)
    response = admin_client_alice.get(reverse("admin:ideas_snapshot_change", args=[snapshot.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>Portfolio snapshot" in body
    assert "<table>" in body
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;" in body


def test_a_snapshot_link_cannot_carry_javascript(admin_client_alice, theme):
    snapshot = SnapshotFactory(theme=theme, markdown="[x](javascript:alert(1))")
    body = admin_client_alice.get(
        reverse("admin:ideas_snapshot_change", args=[snapshot.pk])
    ).content.decode()
    assert 'href="javascript:' not in body


def test_bulk_mark_reviewed_calls_the_service(admin_client_alice, theme, alice):
    ideas = IdeaFactory.create_batch(3, theme=theme)
    response = admin_client_alice.post(
        reverse("admin:ideas_idea_changelist"),
        {"action": "mark_reviewed", "_selected_action": [i.pk for i in ideas[:2]]},
        follow=True,
    )
    assert response.status_code == 200
    assert Idea.objects.filter(status=Idea.Status.REVIEWED, reviewed_by=alice).count() == 2
    assert Idea.objects.get(pk=ideas[0].pk).changes.filter(field="status").exists()


def test_a_human_correction_in_the_change_form_goes_through_the_service(
    admin_client_alice, theme, alice
):
    idea = IdeaFactory(theme=theme, brand_fit=3.0, title="Original title")
    url = reverse("admin:ideas_idea_change", args=[idea.pk])
    response = admin_client_alice.post(
        url,
        {"human_brand_fit": "9", "human_novelty": "", "human_feasibility": "", "title": "hacked"},
    )
    assert response.status_code == 302
    idea.refresh_from_db()
    assert idea.human_brand_fit == 9.0
    assert idea.title == "Original title"  # read-only fields are not writable here
    assert idea.changes.get(field="human_brand_fit").actor == alice
    assert idea.priority == pytest.approx(0.4 * 9 + 0.6 * 5)


def test_a_staff_member_without_permission_cannot_correct(client, charlie, theme):
    idea = IdeaFactory(theme=theme)
    client.force_login(charlie)
    url = reverse("admin:ideas_idea_change", args=[idea.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"human_brand_fit": "9"}).status_code == 403
    idea.refresh_from_db()
    assert idea.human_brand_fit is None


def test_an_active_ip_profile_is_read_only_in_the_admin(admin_client_alice):
    profile = IPProfileFactory()
    url = reverse("admin:ideas_ipprofile_change", args=[profile.pk])
    page = admin_client_alice.get(url).content.decode()
    assert 'name="essence"' not in page  # shown, not editable
    response = admin_client_alice.post(url, {"essence": "rewritten"})
    assert response.status_code == 403
    profile.refresh_from_db()
    assert profile.essence != "rewritten"


def test_a_draft_ip_profile_is_edited_through_the_service(admin_client_alice):
    profile = IPProfileFactory(status=IPProfile.Status.DRAFT, activated_at=None)
    url = reverse("admin:ideas_ipprofile_change", args=[profile.pk])
    assert 'name="essence"' in admin_client_alice.get(url).content.decode()
