"""The ideas changelist reads as a reviewer needs it: title and one-line summary, score
badges with a person's correction marked, why an unscored idea is unscored, and review /
archive buttons per row that POST to the services and say what happened."""

from __future__ import annotations

import pytest
from django.urls import reverse

from decisions.models import AuditEvent
from ideas.models import Idea, IdeaRefusal
from tests.ideas.factories import IdeaFactory
from tests.personas import person_create

pytestmark = pytest.mark.django_db

LIST = "admin:ideas_idea_changelist"


def _list(client) -> str:
    response = client.get(reverse(LIST))
    assert response.status_code == 200
    return response.content.decode()


def test_it_shows_the_title_with_its_summary_and_the_score_badges(client, bob, theme):
    IdeaFactory(
        theme=theme,
        title="Night snack box",
        summary="A box of treats for after overtime",
        brand_fit=7.0,
        novelty=6.5,
        feasibility=8.0,
        human_brand_fit=9.0,
    )
    client.force_login(bob)
    html = _list(client)
    assert "<strong>Night snack box</strong><br><small class='idea-summary'>A box of treats" in html
    assert "brand fit <b>9 ✎ (7)</b>" in html
    assert "corrected by a person" in html
    assert "novelty <b>6.5</b>" in html and "feasibility <b>8</b>" in html


def test_it_says_why_an_idea_is_unscored(client, bob, theme):
    IdeaFactory(theme=theme, title="Fresh idea")
    refused = IdeaFactory(theme=theme, title="Bad idea", status=Idea.Status.REFUSED)
    IdeaRefusal.objects.create(
        theme=theme,
        idea=refused,
        title="Bad idea",
        fingerprint="x",
        data={},
        reasons=["mentions a competitor's brand", "uses a taboo word"],
    )
    client.force_login(bob)
    html = _list(client)
    assert "waiting for the critic" in html
    assert "refused: mentions a competitor&#x27;s brand; uses a taboo word" in html


def test_the_review_button_marks_one_idea_reviewed_and_says_so(client, bob, theme):
    idea, other = IdeaFactory(theme=theme, title="Tea club"), IdeaFactory(theme=theme)
    client.force_login(bob)
    html = _list(client)
    review_url = reverse("admin:ideas_idea_review", args=[idea.pk])
    assert f"formaction='{review_url}'" in html
    assert 'id="idea-row-actions" method="post"' in html and "csrfmiddlewaretoken" in html
    response = client.post(review_url, follow=True)
    assert response.status_code == 200
    assert "“Tea club” marked reviewed." in response.content.decode()
    idea.refresh_from_db()
    other.refresh_from_db()
    assert (idea.status, idea.reviewed_by) == (Idea.Status.REVIEWED, bob)
    assert other.status == Idea.Status.CANDIDATE
    assert AuditEvent.objects.filter(action="ideas.ideas_reviewed", actor=bob).exists()


def test_the_archive_button_archives_one_idea_and_says_so(client, bob, theme):
    idea = IdeaFactory(theme=theme, title="Sock of the month")
    client.force_login(bob)
    response = client.post(reverse("admin:ideas_idea_archive", args=[idea.pk]), follow=True)
    assert "“Sock of the month” archived." in response.content.decode()
    idea.refresh_from_db()
    assert idea.status == Idea.Status.ARCHIVED
    # An archived idea offers neither button any more.
    html = _list(client)
    assert reverse("admin:ideas_idea_archive", args=[idea.pk]) not in html
    assert reverse("admin:ideas_idea_review", args=[idea.pk]) not in html


def test_a_button_on_an_idea_that_cannot_move_says_nothing_changed(client, bob, theme):
    idea = IdeaFactory(theme=theme, title="Gone", status=Idea.Status.ARCHIVED)
    client.force_login(bob)
    response = client.post(reverse("admin:ideas_idea_review", args=[idea.pk]), follow=True)
    assert "“Gone” was not changed: it is archived." in response.content.decode()
    idea.refresh_from_db()
    assert idea.status == Idea.Status.ARCHIVED


def test_the_buttons_only_take_a_post(client, bob, theme):
    idea = IdeaFactory(theme=theme)
    client.force_login(bob)
    assert client.get(reverse("admin:ideas_idea_review", args=[idea.pk])).status_code == 405
    idea.refresh_from_db()
    assert idea.status == Idea.Status.CANDIDATE


def test_a_reader_without_change_permission_sees_no_buttons_and_cannot_post(client, theme):
    idea = IdeaFactory(theme=theme)
    reader = person_create("vera", permissions=["ideas.view_idea"])
    client.force_login(reader)
    html = _list(client)
    assert "idea-row-actions" in html  # the page renders...
    assert reverse("admin:ideas_idea_review", args=[idea.pk]) not in html  # ...without buttons
    response = client.post(reverse("admin:ideas_idea_archive", args=[idea.pk]))
    assert response.status_code == 403
    idea.refresh_from_db()
    assert idea.status == Idea.Status.CANDIDATE


def test_the_post_needs_the_csrf_token(theme, bob):
    from django.test import Client

    idea = IdeaFactory(theme=theme)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert strict.post(reverse("admin:ideas_idea_archive", args=[idea.pk])).status_code == 403
    idea.refresh_from_db()
    assert idea.status == Idea.Status.CANDIDATE
