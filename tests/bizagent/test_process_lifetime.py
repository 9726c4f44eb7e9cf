"""Killing `serve` or `qcluster` leaves nothing running, and stopping is bounded.

Real processes on a private SQLite database; the pids are collected from /proc *before*
the kill, because a surviving orphan is re-parented and no longer shows below its parent.
"""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from bizagent.serve_lock import serve_lock_acquire
from tests.processes import (
    alive,
    command_line,
    free_port,
    manage_env,
    migrate,
    wait_until,
)

# serve -> gunicorn master -> 1 worker; serve -> qcluster -> sentinel -> worker, monitor, pusher
SERVE_TREE = 7
# qcluster -> sentinel -> worker, monitor, pusher
CLUSTER_TREE = 4


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    var = tmp_path_factory.mktemp("procs-var")
    migrate(manage_env(var))
    return var


def start_serve(processes, var_dir):
    env = manage_env(var_dir, BIZAGENT_BIND=f"127.0.0.1:{free_port()}")
    return processes.start("serve", env=env)


def full_tree(processes, process, size: int) -> set[int]:
    assert wait_until(lambda: len(processes.tree(process)) >= size, timeout=90), (
        f"expected {size} processes below {command_line(process.pid)!r}, "
        f"found {[command_line(pid) for pid in processes.tree(process)]}"
    )
    return processes.tree(process)


def survivors(pids: set[int]) -> list[str]:
    return [f"{pid} {command_line(pid)}" for pid in pids if alive(pid)]


def test_killing_serve_takes_every_descendant_with_it(processes, var_dir):
    server = start_serve(processes, var_dir)
    tree = full_tree(processes, server, SERVE_TREE)
    server.kill()
    server.wait(timeout=10)
    assert wait_until(lambda: not survivors(tree), timeout=30), (
        f"orphans outlived serve: {survivors(tree)}"
    )


def test_killing_qcluster_takes_its_children_with_it(processes, var_dir):
    cluster = processes.start("qcluster", env=manage_env(var_dir))
    tree = full_tree(processes, cluster, CLUSTER_TREE)
    cluster.kill()
    cluster.wait(timeout=10)
    assert wait_until(lambda: not survivors(tree), timeout=30), (
        f"orphans outlived qcluster: {survivors(tree)}"
    )


def test_sigterm_to_qclusters_whole_process_group_stops_it_within_a_bound(
    processes,
    var_dir,
):
    cluster = processes.start("qcluster", env=manage_env(var_dir), start_new_session=True)
    tree = full_tree(processes, cluster, CLUSTER_TREE)
    os.killpg(cluster.pid, signal.SIGTERM)
    try:
        output, _ = cluster.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"qcluster still running 60s after SIGTERM to its group: {survivors(tree)}")
    assert cluster.returncode == 0, output
    assert "cluster stopped cleanly" in output
    assert not survivors(tree)


def test_a_second_serve_on_the_same_database_refuses_to_start(processes, var_dir):
    first = start_serve(processes, var_dir)
    full_tree(processes, first, SERVE_TREE)
    second = start_serve(processes, var_dir)
    output, _ = second.communicate(timeout=60)
    assert second.returncode != 0
    assert (
        f"another bizagent serve (pid {first.pid}) is already running on this database"
    ) in output
    assert "gunicorn" not in output.lower() and "Q Cluster" not in output
    # A SIGKILLed serve holds nothing: the kernel drops its lock with it.
    first.kill()
    first.wait(timeout=10)
    third = start_serve(processes, var_dir)
    full_tree(processes, third, SERVE_TREE)
    third.send_signal(signal.SIGINT)
    output, _ = third.communicate(timeout=60)
    assert third.returncode == 0, output


def test_the_serve_lock_is_held_for_sqlite_and_not_taken_for_postgresql(tmp_path):
    sqlite = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "db.sqlite3")}
    held = serve_lock_acquire(database=sqlite)
    assert held is not None
    try:
        # flock locks belong to an open file: a second open in this process is refused too.
        with pytest.raises(Exception, match=rf"another bizagent serve \(pid {os.getpid()}\)"):
            serve_lock_acquire(database=sqlite)
    finally:
        held.close()
    serve_lock_acquire(database=sqlite).close()
    postgres = {"ENGINE": "django.db.backends.postgresql", "NAME": "bizagent", "HOST": "db"}
    assert serve_lock_acquire(database=postgres) is None
    assert serve_lock_acquire(database=postgres) is None, "several machines may serve one PG"
