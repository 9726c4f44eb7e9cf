"""Real `manage.py` processes for the serve / qcluster tests: spawn, walk the tree, clean up.

Every process a test starts, and every descendant seen while it ran, is SIGKILLed at
teardown, so a failing test never leaves a cluster or a web server behind.
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

import pytest

ROOT = Path(__file__).resolve().parents[2]


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


def manage_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment `make run` gives manage.py, on a private SQLite database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIZAGENT_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bizagent.settings",
        BIZAGENT_SKIP_DOTENV="true",
        DJANGO_SECRET_KEY="k" * 50,
        BIZAGENT_VAR_DIR=str(var_dir),
        BIZAGENT_WEB_WORKERS="1",
        BIZAGENT_Q_WORKERS="1",
    )
    env.update(extra)
    return env


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
