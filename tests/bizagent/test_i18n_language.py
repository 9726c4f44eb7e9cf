"""Which language a person reads: their choice (the header's switch, Django's
set_language, kept in a cookie), else their browser (Accept-Language), else
``BIZAGENT_LANGUAGE`` (ja unless set: ja or en only). And the product's name instead
of "Django administration"."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import User

from tests.processes import clean_env, python_run

pytestmark = pytest.mark.django_db

PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.LANGUAGE_CODE, [code for code, _ in s.LANGUAGES])"
)


@pytest.fixture
def staff(client) -> User:
    user = User.objects.create_superuser("hanako", "hanako@example.com", "pw-hanako-123")
    client.force_login(user)
    return user


def _headings(client, **headers) -> str:
    response = client.get("/", **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_without_a_choice_or_a_browser_preference_it_speaks_the_default(client, staff, settings):
    settings.LANGUAGE_CODE = "ja"
    html = _headings(client)
    assert '<html lang="ja"' in html
    for heading in ("あなたの対応待ち", "目標", "スタジオ", "ワークフロー", "システム"):
        assert f">{heading}</h2>" in html
    assert "Needs you" not in html


def test_the_browser_language_wins_over_the_default(client, staff, settings):
    settings.LANGUAGE_CODE = "ja"
    html = _headings(client, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="en"' in html
    assert ">Needs you</h2>" in html


def test_the_persons_choice_wins_over_the_browser(client, staff, settings):
    settings.LANGUAGE_CODE = "en"
    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "ja"
    html = _headings(client, HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert ">あなたの対応待ち</h2>" in html

    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    assert ">Needs you</h2>" in _headings(client, HTTP_ACCEPT_LANGUAGE="ja")


def test_a_language_it_does_not_ship_falls_back_to_the_default(client, staff, settings):
    settings.LANGUAGE_CODE = "ja"
    html = _headings(client, HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")
    assert ">あなたの対応待ち</h2>" in html


def test_every_admin_page_has_the_product_name_and_the_language_switch(client, staff, settings):
    settings.LANGUAGE_CODE = "ja"
    for url in ("/admin/", "/admin/auth/user/", "/"):
        html = client.get(url).content.decode()
        assert '<div id="site-name"><a href="/">bizagent</a></div>' in html, url
        assert "Django administration" not in html and "Django 管理サイト" not in html, url
        assert 'id="language-switch"' in html, url
        assert 'value="en" lang="en"' in html and ">English</button>" in html, url
    assert "bizagent 管理画面" in client.get("/admin/").content.decode()


def test_the_login_page_has_the_switch_too(client, settings):
    settings.LANGUAGE_CODE = "en"
    html = client.get("/admin/login/?next=/").content.decode()
    assert 'id="language-switch"' in html
    assert "<title>Log in | bizagent back office</title>" in html


def test_the_default_comes_from_bizagent_language(tmp_path):
    # A fresh install: no BIZAGENT_LANGUAGE at all (the suite's children read English).
    done = python_run("-c", PROBE, env=clean_env(tmp_path, BIZAGENT_LANGUAGE=None), timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "ja"
    done = python_run("-c", PROBE, env=clean_env(tmp_path, BIZAGENT_LANGUAGE="EN"), timeout=60)
    assert done.stdout.split()[0] == "en"


def test_a_language_it_does_not_ship_is_refused_at_start(tmp_path):
    done = python_run("-c", PROBE, env=clean_env(tmp_path, BIZAGENT_LANGUAGE="fr"), timeout=60)
    assert done.returncode != 0
    assert "BIZAGENT_LANGUAGE must be one of ja, en, got 'fr'" in done.stderr
