"""django-q2 runs tasks end to end on both brokers: the ORM (default) and Redis.

A real ``qcluster`` process and a real ``redis-server`` on loopback; the task is enqueued
from another process, as the web server or the loop would.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time

import pytest

from tests.processes import Processes, free_port, manage_env, manage_run


def manage(env: dict[str, str], *args: str) -> str:
    done = manage_run(*args, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_one_task(processes: Processes, env: dict[str, str]) -> str:
    manage(env, "migrate", "--noinput", "-v0")
    cluster = processes.start(
        "qcluster", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        task_id = manage(
            env,
            "shell",
            "-v",
            "0",
            "-c",
            "from django_q.tasks import async_task; print(async_task('math.fsum', [0.5, 1.25]))",
        ).strip()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            result = manage(
                env,
                "shell",
                "-v",
                "0",
                "-c",
                f"from django_q.tasks import result; print(result({task_id!r}))",
            ).strip()
            if result != "None":
                return result
            time.sleep(0.5)
        raise AssertionError("the cluster did not run the task within 60s")
    finally:
        cluster.terminate()
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            cluster.kill()


def broker_name(env: dict[str, str]) -> str:
    probe = "from django_q.brokers import get_broker; print(type(get_broker()).__name__)"
    return manage(env, "shell", "-v", "0", "-c", probe).strip()


def test_the_orm_broker_runs_a_task_end_to_end(processes, tmp_path):
    env = manage_env(tmp_path)
    assert broker_name(env) == "ORM"
    assert run_one_task(processes, env) == "1.75"


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    assert server, "redis-server is installed by tests/system_packages.sh"
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


def test_the_redis_broker_runs_a_task_end_to_end(processes, tmp_path, redis_url):
    env = manage_env(tmp_path, BIZAGENT_REDIS_URL=redis_url)
    assert broker_name(env) == "Redis"
    assert run_one_task(processes, env) == "1.75"
