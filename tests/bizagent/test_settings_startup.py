"""Start-up with a bad environment fails at once, naming the variable; a good one configures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = (
    "import django, json; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'options': s.DATABASES['default'].get('OPTIONS', {}), 'q': s.Q_CLUSTER, "
    "'cache': s.CACHES['default']['BACKEND'], 'llm': [s.LLM_BACKEND, s.LLM_BASE_URL, s.LLM_MODEL], "
    "'email': s.EMAIL_BACKEND, 'debug': s.DEBUG}))"
)


def start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BIZAGENT_", "DJANGO_"))}
    clean.pop("DATABASE_URL", None)
    clean.pop("EMAIL_HOST", None)
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "bizagent.settings",
            "BIZAGENT_SKIP_DOTENV": "true",
            "BIZAGENT_VAR_DIR": str(tmp_path),
            "DJANGO_SECRET_KEY": "k" * 50,
        }
    )
    clean.update(env)
    clean = {k: v for k, v in clean.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


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
        ({"BIZAGENT_LLM_TIMEOUT": "0"}, "BIZAGENT_LLM_TIMEOUT must be at least 1"),
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
