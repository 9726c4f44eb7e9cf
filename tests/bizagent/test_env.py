"""The strict environment helpers: a bad value names its variable."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from bizagent.env import (
    env_bool,
    env_choice,
    env_float,
    env_hosts,
    env_int,
    env_list,
    env_str,
    env_url,
    url_redacted,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("false", False), ("0", False)],
)
def test_env_bool_reads_true_and_false(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


def test_env_bool_uses_default_when_unset_or_blank(monkeypatch):
    monkeypatch.delenv("X_FLAG", raising=False)
    assert env_bool("X_FLAG", True) is True
    monkeypatch.setenv("X_FLAG", "  ")
    assert env_bool("X_FLAG", False) is False


def test_env_bool_refuses_anything_else_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG must be true or false, got 'maybe'"):
        env_bool("X_FLAG", False)


def test_env_int_parses_and_checks_minimum(monkeypatch):
    monkeypatch.setenv("X_N", " 42 ")
    assert env_int("X_N", 1) == 42
    monkeypatch.setenv("X_N", "4.5")
    with pytest.raises(ImproperlyConfigured, match="X_N must be an integer"):
        env_int("X_N", 1)
    monkeypatch.setenv("X_N", "0")
    with pytest.raises(ImproperlyConfigured, match="X_N must be at least 1, got '0'"):
        env_int("X_N", 1, minimum=1)


def test_env_float_refuses_non_numbers_and_infinity(monkeypatch):
    monkeypatch.setenv("X_F", "2.5")
    assert env_float("X_F", 1.0) == 2.5
    for bad in ("abc", "inf", "nan"):
        monkeypatch.setenv("X_F", bad)
        with pytest.raises(ImproperlyConfigured, match="X_F must be a"):
            env_float("X_F", 1.0)


def test_env_choice_lists_the_allowed_values(monkeypatch):
    monkeypatch.setenv("X_C", "VLLM")
    assert env_choice("X_C", "ollama", ("vllm", "ollama")) == "vllm"
    monkeypatch.setenv("X_C", "llamacpp")
    with pytest.raises(
        ImproperlyConfigured, match="X_C must be one of vllm, ollama, got 'llamacpp'"
    ):
        env_choice("X_C", "vllm", ("vllm", "ollama"))


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("X_L", " a.example, b.example ,,")
    assert env_list("X_L", []) == ["a.example", "b.example"]
    monkeypatch.delenv("X_L")
    assert env_list("X_L", ["d"]) == ["d"]
    assert env_str("X_L", "fallback") == "fallback"


def test_env_url_checks_scheme_host_and_port(monkeypatch):
    monkeypatch.setenv("X_U", "postgres://u:pw@db.local:5432/app")
    assert env_url("X_U", None, schemes=("postgres",)) == "postgres://u:pw@db.local:5432/app"
    monkeypatch.setenv("X_U", "mysql://u:s3cret@db.local/app")
    with pytest.raises(ImproperlyConfigured, match="X_U must be a URL starting with") as info:
        env_url("X_U", None, schemes=("postgres", "sqlite"))
    assert "s3cret" not in str(info.value), "a password must never appear in an error"
    monkeypatch.setenv("X_U", "http://")
    with pytest.raises(ImproperlyConfigured, match="X_U must name a host"):
        env_url("X_U", None, schemes=("http",))
    monkeypatch.setenv("X_U", "http://host:port/")
    with pytest.raises(ImproperlyConfigured, match="X_U has an invalid port"):
        env_url("X_U", None, schemes=("http",))


def test_url_redacted_hides_the_user_and_the_password():
    assert url_redacted("redis://:pw@h:6379/0") == "redis://:***@h:6379/0"
    # A user name alone may be a token (``https://TOKEN@host``): masked too.
    assert url_redacted("postgres://u@h/db") == "postgres://***@h/db"
    assert url_redacted("postgres://h/db") == "postgres://h/db"


@pytest.mark.parametrize("raw", ["1e9", "8760.5", "inf", "nan", "-Infinity", "1" * 400])
def test_env_float_refuses_values_beyond_the_maximum_or_not_finite(monkeypatch, raw):
    monkeypatch.setenv("X_H", raw)
    with pytest.raises(ImproperlyConfigured, match=r"^X_H must be a ") as info:
        env_float("X_H", 24.0, minimum=0.01, maximum=8760.0, unit="hours")
    assert len(str(info.value)) < 200


def test_env_float_names_the_range_and_unit(monkeypatch):
    monkeypatch.setenv("X_H", "1e9")
    with pytest.raises(
        ImproperlyConfigured,
        match=r"X_H must be a number between 0.01 and 8760 \(hours\), got '1e9'",
    ):
        env_float("X_H", 24.0, minimum=0.01, maximum=8760.0, unit="hours")
    monkeypatch.setenv("X_H", "8760")
    assert env_float("X_H", 24.0, minimum=0.01, maximum=8760.0) == 8760.0


def test_env_int_refuses_values_beyond_the_maximum_and_huge_digit_strings(monkeypatch):
    monkeypatch.setenv("X_N", "65536")
    with pytest.raises(ImproperlyConfigured, match="X_N must be an integer between 1 and 65535"):
        env_int("X_N", 25, minimum=1, maximum=65535)
    monkeypatch.setenv("X_N", "9" * 10_000)
    with pytest.raises(ImproperlyConfigured, match="X_N must be an integer between") as info:
        env_int("X_N", 25, minimum=1, maximum=65535)
    assert "(10000 characters)" in str(info.value) and len(str(info.value)) < 200


def test_a_huge_value_is_quoted_by_a_short_prefix_only(monkeypatch):
    monkeypatch.setenv("X_FLAG", "y" * 10_000_000)
    with pytest.raises(ImproperlyConfigured) as info:
        env_bool("X_FLAG", False)
    assert str(info.value).startswith("X_FLAG must be true or false, got 'yyyy")
    assert len(str(info.value)) < 200


def test_env_str_refuses_bytes_that_are_not_utf8_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_S", "abc\udcff")  # how Python hands over an undecodable byte
    with pytest.raises(ImproperlyConfigured, match="X_S must be UTF-8 text"):
        env_str("X_S")


def test_env_url_refuses_an_unparseable_url_naming_the_variable(monkeypatch):
    monkeypatch.setenv("X_U", "http://[::1")
    with pytest.raises(ImproperlyConfigured, match="X_U is not a valid URL"):
        env_url("X_U", None, schemes=("http",))


def test_env_hosts_reads_bare_hosts_lower_cased(monkeypatch):
    monkeypatch.setenv("X_HOSTS", " API.Example.com, 127.0.0.1,[::1],intranet ")
    assert env_hosts("X_HOSTS") == ["api.example.com", "127.0.0.1", "::1", "intranet"]
    monkeypatch.delenv("X_HOSTS")
    assert env_hosts("X_HOSTS") == []


@pytest.mark.parametrize(
    "raw", ["https://api.example.com", "api.example.com:443", "*.example.com", "h.test/path"]
)
def test_env_hosts_refuses_what_an_exact_match_would_never_match(monkeypatch, raw):
    monkeypatch.setenv("X_HOSTS", f"ok.example.com,{raw}")
    with pytest.raises(ImproperlyConfigured, match="X_HOSTS must list bare host names"):
        env_hosts("X_HOSTS")
