"""Start-up with a bad environment fails at once, naming the variable; a good one configures."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.processes import clean_env, manage_run, python_run

PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'options': s.DATABASES['default'].get('OPTIONS', {}), 'q': s.Q_CLUSTER, "
    "'cache': s.CACHES['default']['BACKEND'], 'llm': [s.LLM_BACKEND, s.LLM_BASE_URL, s.LLM_MODEL], "
    "'email': s.EMAIL_BACKEND, 'debug': s.DEBUG}))"
)


def start(tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess[str]:
    """Django set up in a fresh install's environment, printing what it configured."""
    return python_run("-c", PROBE, env=clean_env(tmp_path, **env), timeout=60)


def test_it_starts_with_the_documented_defaults(tmp_path):
    import json

    done = start(tmp_path)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["engine"] == "django.db.backends.sqlite3"
    assert seen["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in seen["options"]["init_command"]
    assert seen["options"]["timeout"] >= 1
    assert seen["q"]["orm"] == "default" and "redis" not in seen["q"]
    assert seen["q"]["retry"] > seen["q"]["timeout"]
    assert 0 < seen["q"]["max_attempts"] < 10
    assert seen["cache"] == "django.core.cache.backends.db.DatabaseCache"
    assert seen["llm"] == ["vllm", "http://127.0.0.1:8000/v1", "openai/gpt-oss-20b"]
    assert seen["email"] == "bizagent.console_mail.RedactingConsoleBackend"
    assert seen["debug"] is False


def test_ollama_gets_its_own_defaults(tmp_path):
    import json

    done = start(tmp_path, BIZAGENT_LLM_BACKEND="ollama")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["llm"] == ["ollama", "http://127.0.0.1:11434", "gpt-oss:20b"]


def test_postgres_and_redis_urls_switch_database_and_broker(tmp_path):
    import json

    done = start(
        tmp_path,
        DATABASE_URL="postgres://app:pw@127.0.0.1:5432/bizagent",
        BIZAGENT_REDIS_URL="redis://127.0.0.1:6379/0",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT="2525",
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["q"]["redis"] == "redis://127.0.0.1:6379/0" and "orm" not in seen["q"]
    assert seen["email"] == "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_DEBUG": "sometimes"}, "DJANGO_DEBUG must be true or false"),
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY is not set"),
        ({"BIZAGENT_LLM_BACKEND": "llamacpp"}, "BIZAGENT_LLM_BACKEND must be one of vllm, ollama"),
        ({"BIZAGENT_LLM_TIMEOUT": "soon"}, "BIZAGENT_LLM_TIMEOUT must be a number"),
        ({"BIZAGENT_LLM_TIMEOUT": "0"}, "BIZAGENT_LLM_TIMEOUT must be a number between 1 and"),
        ({"BIZAGENT_LLM_BASE_URL": "127.0.0.1:8000"}, "BIZAGENT_LLM_BASE_URL must be a URL"),
        ({"DATABASE_URL": "mysql://u:pw@h/db"}, "DATABASE_URL must be a URL starting with"),
        ({"BIZAGENT_REDIS_URL": "http://127.0.0.1:6379"}, "BIZAGENT_REDIS_URL must be a URL"),
        ({"EMAIL_HOST": "smtp.local", "EMAIL_PORT": "smtp"}, "EMAIL_PORT must be an integer"),
        ({"DECISION_TIMEOUT": "a day"}, "DECISION_TIMEOUT must be a number"),
        ({"AUTO_EXECUTION_ENABLED": "perhaps"}, "AUTO_EXECUTION_ENABLED must be true or false"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, env, message):
    done = start(tmp_path, **env)
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert message in done.stderr
    assert "pw@" not in done.stderr


def test_debug_mode_runs_without_a_secret_key(tmp_path):
    done = start(tmp_path, DJANGO_DEBUG="true", DJANGO_SECRET_KEY=None)
    assert done.returncode == 0, done.stderr


def manage(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGV`` (or ``python -c`` with ``argv=("-c", CODE)``) in a clean env."""
    clean = clean_env(tmp_path, **env)
    if argv[0] == "-c":
        return python_run(*argv, env=clean, timeout=60)
    return manage_run(*argv, env=clean, timeout=60)


NUMERIC = [
    ("DECISION_TIMEOUT", "1e9"),
    ("DECISION_TIMEOUT", "nan"),
    ("BIZAGENT_LLM_TIMEOUT", "1e12"),
    ("BIZAGENT_LLM_TIMEOUT", "inf"),
    ("BIZAGENT_LLM_TIMEOUT", "-inf"),
    ("BIZAGENT_LLM_RETRY_BUDGET", "1e300"),
    ("BIZAGENT_LLM_MAX_RETRIES", "1000000"),
    ("BIZAGENT_LLM_CONTEXT_TOKENS", "9" * 5000),
    ("BIZAGENT_Q_TIMEOUT", "99999999999"),
    ("BIZAGENT_Q_WORKERS", "100000"),
    ("BIZAGENT_SQLITE_BUSY_TIMEOUT", "1e3"),
    ("BIZAGENT_DECISION_LINK_MAX_AGE_HOURS", "Infinity"),
    ("BIZAGENT_SHEETS_SYNC_MINUTES", "0"),
    ("BIZAGENT_SHEETS_BATCH_SIZE", "10000000"),
    ("BIZAGENT_SHEETS_RETRY_BUDGET", "1e9"),
    ("EMAIL_PORT", "70000"),
    ("DJANGO_DEBUG", "x" * 100_000),
    ("TIME_ZONE", "Mars/Olympus_Mons"),
    ("BIZAGENT_LOG_LEVEL", "loud"),
    ("BIZAGENT_LLM_BASE_URL", "http://[::1"),
    ("BIZAGENT_LLM_BACKEND", "b" * 100_000),
]


@pytest.mark.parametrize(("name", "value"), NUMERIC, ids=[f"{n}={v[:12]}" for n, v in NUMERIC])
def test_a_bad_value_is_one_line_naming_the_variable_and_exit_2(tmp_path, name, value):
    env = {name: value}
    if name == "EMAIL_PORT":
        env["EMAIL_HOST"] = "smtp.invalid"
    done = manage(tmp_path, "check", **env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr[:2000]
    assert lines[0].startswith(f"configuration error: {name} ")
    # A huge value is quoted by a short prefix, never echoed in full.
    assert len(lines[0]) < 300
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DECISION_TIMEOUT",
            "1e9",
            "DECISION_TIMEOUT must be a number between 0.01 and 8760 (hours)",
        ),
        ("BIZAGENT_LLM_TIMEOUT", "nan", "BIZAGENT_LLM_TIMEOUT must be a finite number, got 'nan'"),
        ("EMAIL_PORT", "7" * 40, "EMAIL_PORT must be an integer between 1 and 65535, got '7777"),
    ],
)
def test_the_line_says_what_is_allowed(tmp_path, name, value, message):
    done = manage(tmp_path, "check", EMAIL_HOST="smtp.invalid", **{name: value})
    assert message in done.stderr


def test_the_wsgi_application_stops_with_the_same_one_line(tmp_path):
    done = manage(tmp_path, "-c", "import bizagent.wsgi", BIZAGENT_LLM_TIMEOUT="1e12")
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "configuration error: BIZAGENT_LLM_TIMEOUT must be a number between 1 and 3600 "
        "(seconds), got '1e12'"
    ]


def test_good_values_at_the_bounds_still_start(tmp_path):
    done = manage(
        tmp_path,
        "check",
        DECISION_TIMEOUT="8760",
        BIZAGENT_LLM_TIMEOUT="3600",
        BIZAGENT_Q_WORKERS="64",
        TIME_ZONE="Asia/Tokyo",
        BIZAGENT_LOG_LEVEL="warning",
    )
    assert done.returncode == 0, done.stderr
