"""`manage.py serve` (the end of `make run`): admin answers, qcluster runs, Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

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


def test_serve_runs_web_and_cluster_and_stops_both_on_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BIZAGENT_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="bizagent.settings",
        BIZAGENT_SKIP_DOTENV="true",
        DJANGO_SECRET_KEY="k" * 50,
        BIZAGENT_VAR_DIR=str(tmp_path),
        BIZAGENT_BIND=f"127.0.0.1:{port}",
        BIZAGENT_WEB_WORKERS="1",
        BIZAGENT_Q_WORKERS="1",
    )
    manage = [sys.executable, "manage.py"]
    for step in (["migrate", "--noinput", "-v0"], ["createcachetable"]):
        subprocess.run(manage + step, cwd=ROOT, env=env, check=True, timeout=120)
    server = subprocess.Popen(
        [*manage, "serve"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and status != 200:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/admin/login/", timeout=2
                ) as response:
                    status = response.status
                    page = response.read().decode()
            except OSError:
                time.sleep(0.3)
        assert status == 200, "the admin login page did not answer within 60s"
        assert "Django administration" in page or "Log in" in page
        children = descendants(server.pid)
        commands = " ".join(
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            for pid in children
            if alive(pid)
        )
        assert "gunicorn" in commands and "qcluster" in commands
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "bizagent stopped cleanly." in output
    time.sleep(0.5)
    assert not [pid for pid in children if alive(pid)], "a child outlived serve"
