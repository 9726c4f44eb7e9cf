"""`manage.py ensure_admin`: the first admin account, created once."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


def run(**env) -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_it_creates_the_account_from_the_environment(monkeypatch):
    monkeypatch.setenv("BIZAGENT_ADMIN_USER", "ops")
    monkeypatch.setenv("BIZAGENT_ADMIN_PASSWORD", "a-long-pass-phrase")
    output = run()
    user = get_user_model().objects.get(username="ops")
    assert user.is_superuser and user.check_password("a-long-pass-phrase")
    assert "a-long-pass-phrase" not in output, "a given password is never echoed"


@pytest.mark.django_db
def test_it_generates_a_password_and_prints_it_once(monkeypatch):
    monkeypatch.delenv("BIZAGENT_ADMIN_USER", raising=False)
    monkeypatch.delenv("BIZAGENT_ADMIN_PASSWORD", raising=False)
    output = run()
    password = output.split("with password: ")[1].split()[0]
    assert get_user_model().objects.get(username="admin").check_password(password)
    second = run()
    assert "exists; left unchanged" in second and password not in second
    assert get_user_model().objects.get(username="admin").check_password(password)


@pytest.mark.django_db
def test_it_hands_over_only_the_generated_password_on_stdout(monkeypatch):
    monkeypatch.delenv("BIZAGENT_ADMIN_USER", raising=False)
    monkeypatch.delenv("BIZAGENT_ADMIN_PASSWORD", raising=False)
    out, err = io.StringIO(), io.StringIO()
    call_command("ensure_admin", "--hand-over", stdout=out, stderr=err)
    password = out.getvalue().strip()
    assert password and "\n" not in password
    assert get_user_model().objects.get(username="admin").check_password(password)
    assert "Created admin account 'admin'" in err.getvalue() and password not in err.getvalue()
    out, err = io.StringIO(), io.StringIO()
    call_command("ensure_admin", "--hand-over", stdout=out, stderr=err)
    assert out.getvalue() == "", "nothing to hand over when the account exists"
    assert "exists; left unchanged" in err.getvalue()


@pytest.mark.django_db
def test_it_hands_over_nothing_when_the_password_was_given(monkeypatch):
    monkeypatch.setenv("BIZAGENT_ADMIN_PASSWORD", "a-long-pass-phrase")
    out, err = io.StringIO(), io.StringIO()
    call_command("ensure_admin", "--hand-over", stdout=out, stderr=err)
    assert out.getvalue() == ""
    assert "a-long-pass-phrase" not in err.getvalue()
