"""The Profile page (admin user menu → Profile) and the header's language switch: saving
stores the language through the service, applies at once (the next page is in it), sets
or clears the language cookie; a bad value is refused by name; the switch stores a
signed-in person's choice and still only sets the cookie for someone signed out."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from decisions.models import AuditEvent
from decisions.services.person import person_language, person_language_set

pytestmark = pytest.mark.django_db
PROFILE = "/admin/decisions/telegramlink/profile/"
COOKIE = django_settings.LANGUAGE_COOKIE_NAME


@pytest.fixture(autouse=True)
def default_ja(settings):
    settings.LANGUAGE_CODE = "ja"


def test_every_staff_member_reaches_their_profile_from_the_user_menu(client, bob):
    client.force_login(bob)
    page = client.get("/admin/")
    assert f'href="{PROFILE}"' in page.content.decode()
    profile = client.get(PROFILE)
    assert profile.status_code == 200
    body = profile.content.decode()
    assert reverse("admin:decisions_notify_prefs") in body
    assert reverse("admin:decisions_telegramlink_link") in body


def test_someone_without_staff_access_is_sent_to_log_in(client, charlie):
    client.force_login(charlie)
    response = client.get(PROFILE)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_saving_english_applies_at_once_and_sets_the_cookie(client, alice):
    client.force_login(alice)
    response = client.post(PROFILE, {"language": "en"}, follow=True)
    assert person_language(user_id=alice.pk) == "en"
    assert client.cookies[COOKIE].value == "en"
    assert response.headers["Content-Language"] == "en"
    with translation.override("en"):
        saved = gettext("Your profile is saved.")
    assert saved in response.content.decode()
    assert AuditEvent.objects.filter(action="decisions.person_language_changed").count() == 1


def test_following_the_browser_clears_the_cookie(client, alice):
    person_language_set(user=alice, language="en")
    client.force_login(alice)
    client.cookies[COOKIE] = "en"
    response = client.post(PROFILE, {"language": ""})
    assert response.cookies[COOKIE].value == ""  # deleted
    assert person_language(user_id=alice.pk) == ""
    page = client.get(PROFILE, headers={"Accept-Language": "ja"})
    assert page.headers["Content-Language"] == "ja"


def test_a_bad_language_is_refused_by_name_and_nothing_saved(client, alice):
    client.force_login(alice)
    response = client.post(PROFILE, {"language": "xx"})
    assert response.status_code == 200
    # Named in the message, whatever the language's quotation marks.
    errors = response.content.decode().split('id="profile-errors"', 1)[1].split("</ul>", 1)[0]
    assert "xx" in errors
    assert person_language(user_id=alice.pk) == ""
    assert COOKIE not in response.cookies


def test_the_header_switch_stores_a_signed_in_persons_choice(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("decisions:language_switch"), {"language": "en", "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert response.cookies[COOKIE].value == "en"
    assert person_language(user_id=alice.pk) == "en"
    assert client.get("/admin/").headers["Content-Language"] == "en"


def test_the_header_switch_for_someone_signed_out_sets_only_the_cookie(client):
    response = client.post(
        reverse("decisions:language_switch"), {"language": "en", "next": "/admin/login/"}
    )
    assert response.cookies[COOKIE].value == "en"
    assert not AuditEvent.objects.filter(action="decisions.person_language_changed").exists()
