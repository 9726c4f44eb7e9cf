"""The loop's settings are read once and checked at start-up by a system check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from goals.conf import conf, conf_reset

ROOT = Path(__file__).resolve().parents[2]


def _manage_check(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BIZAGENT_", "DJANGO_"))}
    clean.pop("DATABASE_URL", None)
    clean.update(
        {
            "DJANGO_SETTINGS_MODULE": "bizagent.settings",
            "BIZAGENT_SKIP_DOTENV": "true",
            "BIZAGENT_VAR_DIR": str(tmp_path),
            "DJANGO_SECRET_KEY": "k" * 50,
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_manage_check_fails_on_a_bad_loop_setting_with_one_line_naming_it(tmp_path):
    done = _manage_check(tmp_path, BIZAGENT_GOALS_TICK_MINUTES="soon")
    assert done.returncode != 0
    naming = [line for line in done.stderr.splitlines() if "BIZAGENT_GOALS_TICK_MINUTES" in line]
    assert naming == ["?: (goals.E001) BIZAGENT_GOALS_TICK_MINUTES must be an integer, got 'soon'"]
    assert "Traceback" not in done.stderr


def test_manage_check_passes_with_the_defaults(tmp_path):
    done = _manage_check(tmp_path)
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize(
    ("variable", "value", "complaint"),
    [
        ("BIZAGENT_LOOP_CONCURRENCY", "0", "BIZAGENT_LOOP_CONCURRENCY must be at least 1"),
        ("BIZAGENT_GOALS_LEASE_SECONDS", "5", "BIZAGENT_GOALS_LEASE_SECONDS must be at least 10"),
        ("BIZAGENT_GOALS_BACKOFF_BASE_SECONDS", "nan", "must be a finite number"),
    ],
)
def test_the_check_reports_the_bad_variable(settings, monkeypatch, variable, value, complaint):
    for name in ("GOALS_LEASE_SECONDS", "GOALS_BACKOFF_BASE_SECONDS", "LOOP_CONCURRENCY"):
        if hasattr(settings, name):
            delattr(settings, name)  # read from the environment, as in production
    monkeypatch.setenv(variable, value)
    conf_reset()

    errors = checks.run_checks(tags=["settings"])

    assert [error.id for error in errors] == ["goals.E001"]
    assert complaint in errors[0].msg and "\n" not in errors[0].msg
    with pytest.raises(SystemCheckError, match=r"goals\.E001"):
        call_command("check")


def test_the_configuration_is_read_once(monkeypatch, settings):
    settings.GOALS_TICK_MINUTES = 7
    first = conf()
    # A changed environment is not read again behind the operator's back ...
    monkeypatch.setenv("BIZAGENT_GOALS_RECENT_DIRECTIONS", "not a number")
    assert conf() is first
    # ... until the cache is cleared (start-up, or a test overriding a setting).
    conf_reset()
    with pytest.raises(ImproperlyConfigured, match="BIZAGENT_GOALS_RECENT_DIRECTIONS"):
        conf()


def test_overriding_a_setting_clears_the_cache(settings):
    settings.GOALS_TICK_MINUTES = 7
    assert conf().tick_minutes == 7
    settings.GOALS_TICK_MINUTES = 9
    assert conf().tick_minutes == 9


def test_a_q_cluster_whose_retry_does_not_exceed_its_timeout_fails_the_check(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 600, "retry": 600}
    errors = checks.run_checks(tags=["settings"])
    assert [error.id for error in errors] == ["bizagent.E001"]
    assert "retry (600) must be greater than timeout (600)" in errors[0].msg
