"""Real `manage.py` processes for every test that needs one: spawn, walk the tree, clean up.

Two environments: ``manage_env`` is a fresh install on a private SQLite database under
``var_dir`` (what `make run` gives manage.py), ``child_env_on_test_database`` the test database
and settings this pytest run uses, so the child sees what the test wrote.

Every process a test starts through the ``processes`` fixture, and every descendant
seen while it ran, is SIGKILLed at teardown, so a failing test never leaves a cluster,
a loop or a web server behind. One-shot commands (``manage_run``, ``python_run``) are
bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Variables of the outer environment that would change how a child configures itself.
CONFIGURATION_PREFIXES = ("BIZAGENT_", "DJANGO_")
CONFIGURATION_NAMES = ("DATABASE_URL", "EMAIL_HOST", "TIME_ZONE", "DECISION_TIMEOUT")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``, from /proc (no extra dependency)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def command_line(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def environment(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {key.decode(errors="replace"): value.decode(errors="replace") for key, value in pairs}


def wait_until(condition, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def clean_env(var_dir: Path, **extra: str | None) -> dict[str, str]:
    """A fresh install's environment: documented defaults, data under ``var_dir``.

    Nothing of this machine's configuration leaks in (no ``BIZAGENT_*``, ``DJANGO_*``,
    ``DATABASE_URL``…); ``extra`` sets variables, and ``None`` leaves one unset.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(CONFIGURATION_PREFIXES) and key not in CONFIGURATION_NAMES
    }
    env.update(
        DJANGO_SETTINGS_MODULE="bizagent.settings",
        BIZAGENT_SKIP_DOTENV="true",
        DJANGO_SECRET_KEY="k" * 50,
        BIZAGENT_VAR_DIR=str(var_dir),
        # The suite reads English, as under the test settings; a test of the Japanese
        # default (a fresh install speaks Japanese) passes BIZAGENT_LANGUAGE=None.
        BIZAGENT_LANGUAGE="en",
    )
    env.update(extra)
    return {key: value for key, value in env.items() if value is not None}


def manage_env(var_dir: Path, **extra: str | None) -> dict[str, str]:
    """The environment `make run` gives manage.py, on a private SQLite database.

    One web and one cluster worker: the machine running the tests is small and shared.
    """
    return clean_env(var_dir, **{"BIZAGENT_WEB_WORKERS": "1", "BIZAGENT_Q_WORKERS": "1", **extra})


def child_database_url() -> str:
    """This test's database as a child's DATABASE_URL (SQLite file or PostgreSQL)."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings["USER"] or "", safe="")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings.get("PASSWORD") else ""
    host = settings["HOST"] or "127.0.0.1"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{settings['NAME']}"


def child_env_on_test_database(**extra: str) -> dict[str, str]:
    """This pytest run's environment and test settings, on this test's database.

    The child opens the database itself, so the test must be a transactional one
    (``django_db(transaction=True)``) for it to see the rows the test wrote.
    """
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bizagent.settings_test",
        "DATABASE_URL": child_database_url(),
        **extra,
    }


def python_run(
    *argv: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python ARGV`` from the project root, output captured, bounded by ``timeout``."""
    return subprocess.run(
        [sys.executable, *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def manage_run(
    *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` from the project root, output captured, bounded."""
    return python_run("manage.py", *args, env=env, timeout=timeout)


def migrate(env: dict[str, str]) -> None:
    manage = [sys.executable, "manage.py"]
    for step in (["migrate", "--noinput", "-v0"], ["createcachetable"]):
        subprocess.run(manage + step, cwd=ROOT, env=env, check=True, timeout=180)


class Processes:
    """Starts manage.py commands and remembers every pid seen below them."""

    def __init__(self) -> None:
        self.started: list[subprocess.Popen] = []
        self.seen: set[int] = set()

    def start(self, *args: str, env: dict[str, str], **popen: object) -> subprocess.Popen:
        popen.setdefault("stdout", subprocess.PIPE)
        popen.setdefault("stderr", subprocess.STDOUT)
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=env, text=True, **popen
        )
        self.started.append(process)
        return process

    def tree(self, process: subprocess.Popen) -> set[int]:
        """The live descendants of ``process`` now (remembered for the cleanup)."""
        found = {pid for pid in descendants(process.pid) if alive(pid)}
        self.seen |= found
        return found

    def cleanup(self) -> None:
        for process in self.started:
            self.seen |= descendants(process.pid)
            if process.poll() is None:
                process.kill()
        for pid in self.seen:
            if alive(pid) and any(
                name in command_line(pid) for name in ("manage.py", "gunicorn", "qcluster")
            ):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for process in self.started:
            with contextlib.suppress(subprocess.TimeoutExpired, ValueError):
                process.communicate(timeout=10)


@pytest.fixture
def processes() -> Iterator[Processes]:
    spawned = Processes()
    try:
        yield spawned
    finally:
        spawned.cleanup()
