"""`manage.py serve` (the end of `make run`): admin answers, qcluster runs, Ctrl-C stops both."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.processes import (
    ROOT,
    alive,
    command_line,
    descendants,
    environment,
    free_port,
    manage_env,
    migrate,
)


def test_serve_runs_web_and_cluster_and_stops_both_on_ctrl_c(processes, tmp_path):
    port = free_port()
    env = manage_env(tmp_path, BIZAGENT_BIND=f"127.0.0.1:{port}")
    migrate(env)
    server = processes.start("serve", env=env)
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
        # The header carries the product name in every language (the default is Japanese).
        assert '<div id="site-name"><a href="/">bizagent</a></div>' in page
        children = processes.tree(server)
        commands = " ".join(command_line(pid) for pid in children)
        assert "gunicorn" in commands and "qcluster" in commands
    finally:
        server.send_signal(signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert "bizagent stopped cleanly." in output
    time.sleep(0.5)
    assert not [pid for pid in children if alive(pid)], "a child outlived serve"


def makefile_serve_line(bin_dir: Path) -> str:
    """The shell line `make run` ends with, as make would run it."""
    dry_run = subprocess.run(
        ["make", "-n", "run", f"BIN={bin_dir}", "VENV=/nonexistent-venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout
    lines = [line for line in dry_run.splitlines() if "manage.py serve" in line]
    assert len(lines) == 1, dry_run
    return lines[0]


def test_make_run_prints_a_generated_admin_password_last_with_the_url(
    processes,
    tmp_path,
):
    port = free_port()
    env = manage_env(tmp_path, BIZAGENT_BIND=f"127.0.0.1:{port}")
    migrate(env)
    line = makefile_serve_line(Path(sys.executable).parent)
    server = subprocess.Popen(
        ["bash", "-c", line],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    processes.started.append(server)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in server.stdout], daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + 120
    while not any("Admin: " in x for x in seen) and time.monotonic() < deadline:
        try:
            seen.append(lines.get(timeout=1))
        except queue.Empty:
            assert server.poll() is None, "".join(seen)
    banner = [x for x in seen if "Admin: " in x]
    assert banner, "no admin banner within 120s:\n" + "".join(seen)
    url = f"http://127.0.0.1:{port}/admin/"
    assert f"Admin: {url}  user admin  password " in banner[0]
    password = banner[0].split(" password ")[1].split()[0]
    before = "".join(seen[:-1])
    # The start-up output of both children came first; the password is in no earlier line.
    assert "Booting worker" in before and "Q Cluster" in before and "running." in before
    assert password not in before
    assert "shown once; change it in the admin" in banner[0]
    tree = processes.tree(server)
    assert tree, "serve started no children"
    # serve's own /proc environ keeps what it was started with; what matters is that it
    # passes the password to no child.
    for pid in tree:
        assert "BIZAGENT_ONE_TIME_ADMIN_PASSWORD" not in environment(pid), command_line(pid)
    server.send_signal(signal.SIGINT)
    server.wait(timeout=60)
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert password not in "".join(rest), "the password is shown once"
    assert not [pid for pid in descendants(server.pid) if alive(pid)]
