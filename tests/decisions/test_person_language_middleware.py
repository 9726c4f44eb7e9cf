"""decisions.middleware.PersonLanguageMiddleware: a signed-in person's stored language
beats the language cookie, which beats the browser's Accept-Language, which beats
BIZAGENT_LANGUAGE; the stored choice is cached on the session (no query per page)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.services.person import person_language_set

pytestmark = pytest.mark.django_db
PAGE = "/admin/decisions/telegramlink/notifications/"


def language_of(client: Client, *, cookie: str = "", accept: str = "") -> str:
    if cookie:
        client.cookies[django_settings.LANGUAGE_COOKIE_NAME] = cookie
    headers = {"Accept-Language": accept} if accept else {}
    response = client.get(PAGE, headers=headers)
    assert response.status_code == 200
    return response.headers["Content-Language"]


@pytest.fixture(autouse=True)
def default_ja(settings):
    settings.LANGUAGE_CODE = "ja"  # BIZAGENT_LANGUAGE


def test_the_stored_language_beats_cookie_and_browser(client, alice):
    person_language_set(user=alice, language="en")
    client.force_login(alice)
    assert language_of(client, cookie="ja", accept="ja") == "en"


def test_the_cookie_beats_the_browser_when_nothing_is_stored(client, alice):
    client.force_login(alice)
    assert language_of(client, cookie="en", accept="ja") == "en"


def test_the_browser_beats_the_default(client, alice):
    client.force_login(alice)
    assert language_of(client, accept="en") == "en"


def test_bizagent_language_when_nothing_else_says(client, alice):
    client.force_login(alice)
    assert language_of(client) == "ja"


def test_someone_signed_out_follows_cookie_and_browser(client, alice):
    person_language_set(user=alice, language="en")
    response = client.get("/admin/login/", headers={"Accept-Language": "ja"})
    assert response.headers["Content-Language"] == "ja"


def test_a_second_page_asks_the_database_nothing_more(client, alice):
    person_language_set(user=alice, language="en")
    client.force_login(alice)
    with CaptureQueriesContext(connection) as first:
        client.get(PAGE)
    with CaptureQueriesContext(connection) as second:
        client.get(PAGE)
    with CaptureQueriesContext(connection) as third:
        client.get(PAGE)
    reads = [q["sql"] for q in first.captured_queries if "decisions_personsettings" in q["sql"]]
    assert reads, "the first page reads the stored language"
    assert not [q for q in second.captured_queries if "decisions_personsettings" in q["sql"]]
    # The first page also saved the cached choice on the session; afterwards pages match.
    assert len(second.captured_queries) == len(third.captured_queries)
    assert len(second.captured_queries) < len(first.captured_queries)


def test_a_choice_made_in_another_browser_arrives_after_the_cache_lapses(client, alice):
    client.force_login(alice)
    assert language_of(client, accept="ja") == "ja"
    person_language_set(user=alice, language="en")  # saved from another browser
    assert language_of(client, accept="ja") == "ja"  # this session's cache still holds
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        assert language_of(client, accept="ja") == "en"
