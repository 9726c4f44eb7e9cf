"""Durability: the catch-up sweep (lost enqueues, lapsed leases, late runs), a worker
SIGKILLed mid-step under a real qcluster, and parallel branches on two workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.models import Schedule

from decisions.models import AuditEvent
from tests.concurrency import run_together
from tests.processes import ROOT, alive, child_env_on_test_database, descendants, wait_until
from tests.workflows.engine_blocks import ATTEMPTS, run_drain, workflow_build
from workflows.models import Run, StepRun
from workflows.selectors_runs import run_wait
from workflows.services.catchup import workflows_catch_up
from workflows.services.execution import step_run_execute
from workflows.services.runs import run_start
from workflows.services.schedules import workflows_schedules_ensure


@pytest.fixture(autouse=True)
def _clean():
    ATTEMPTS.clear()


@pytest.fixture
def enqueued(monkeypatch):
    sent: list[int] = []
    monkeypatch.setattr(
        "workflows.services.enqueue.async_task", lambda func, pk, **kw: sent.append(pk)
    )
    return sent


def chain(**kw):
    return workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "b", "block": "test-echo", "config": {"value": 2}},
        ],
        edges=[("a", "out", "b")],
        **kw,
    )


@pytest.mark.django_db
def test_a_lost_enqueue_is_caught_up(enqueued, django_capture_on_commit_callbacks):
    run = run_start(workflow=chain(), input={}, triggered_by=None)  # on_commit never ran
    first = run.step_runs.get()
    assert workflows_catch_up().enqueued == []  # still fresh: presumed in the queue
    later = timezone.now() + timedelta(minutes=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert workflows_catch_up(now=later).enqueued == [first.pk]
    assert enqueued == [first.pk]
    step_run_execute(step_run_id=first.pk)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED


@pytest.mark.django_db
def test_a_lapsed_lease_is_released_audited_and_the_step_runs_again(enqueued):
    run = run_start(workflow=chain(), input={}, triggered_by=None)
    first = run.step_runs.get()
    past = timezone.now() - timedelta(seconds=5)
    StepRun.objects.filter(pk=first.pk).update(
        status=StepRun.Status.RUNNING, lease_owner="dead-worker", lease_expires_at=past, attempt=1
    )
    done = workflows_catch_up()
    assert done.released == [first.pk] and done.enqueued == [first.pk]
    first.refresh_from_db()
    assert (first.status, first.lease_owner, first.error_class) == (
        "pending",
        "",
        "lease_expired",
    )
    event = AuditEvent.objects.get(action="workflows.step_lease_expired")
    assert event.data["owner"] == "dead-worker"
    run = run_drain(run)
    assert run.status == Run.Status.SUCCEEDED
    first.refresh_from_db()
    assert (first.attempt, first.error_class) == (2, "")


@pytest.mark.django_db
def test_a_live_lease_is_left_alone():
    run = run_start(workflow=chain(), input={}, triggered_by=None)
    first = run.step_runs.get()
    StepRun.objects.filter(pk=first.pk).update(
        status=StepRun.Status.RUNNING,
        lease_owner="busy-worker",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    assert workflows_catch_up().released == []
    assert step_run_execute(step_run_id=first.pk) == 0
    assert ATTEMPTS["run:a"] == 0


@pytest.mark.django_db
def test_a_side_effect_whose_worker_died_is_not_run_again(tmp_path):
    workflow = workflow_build(
        steps=[{"name": "send", "block": "test-count", "config": {"path": str(tmp_path / "c")}}]
    )
    run = run_start(workflow=workflow, input={}, triggered_by=None)
    first = run.step_runs.get()
    StepRun.objects.filter(pk=first.pk).update(
        status=StepRun.Status.RUNNING,
        lease_owner="dead",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempt=1,
    )
    # A redelivered task finds the lapsed lease itself (no sweep needed).
    step_run_execute(step_run_id=first.pk)
    run.refresh_from_db()
    first.refresh_from_db()
    assert (first.status, first.error_class) == ("failed", "lease_expired")
    assert "side effects" in first.error_message
    assert not (tmp_path / "c").exists()
    assert run.status == Run.Status.FAILED


@pytest.mark.django_db
def test_the_sweep_times_out_late_runs():
    run = run_start(workflow=chain(timeout_seconds=5), input={}, triggered_by=None)
    done = workflows_catch_up(now=timezone.now() + timedelta(seconds=6))
    assert done.timed_out == [run.pk]
    run.refresh_from_db()
    assert run.status == Run.Status.FAILED and "timed out" in run.error
    assert run.step_runs.get().status == StepRun.Status.CANCELLED
    assert AuditEvent.objects.filter(action="workflows.run_timed_out").count() == 1


@pytest.mark.django_db
def test_the_catch_up_schedule_is_created_once():
    assert workflows_schedules_ensure() == ["workflows.catch_up"]
    assert workflows_schedules_ensure() == []
    schedule = Schedule.objects.get(name="workflows.catch_up")
    assert (schedule.func, schedule.minutes) == ("workflows.tasks.workflows_catch_up_task", 1)


def _cluster(processes, tmp_path: Path, name: str) -> subprocess.Popen:
    env = child_env_on_test_database(BIZAGENT_Q_WORKERS="1", WORKFLOWS_LEASE_GRACE="1")
    out = (tmp_path / f"{name}.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "tests/workflows/qcluster_engine.py"],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    processes.started.append(process)
    return process


def _kill_tree(process: subprocess.Popen) -> None:
    for pid in [*descendants(process.pid), process.pid]:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_step_leaves_a_step_another_worker_finishes(processes, tmp_path):
    counter, log = tmp_path / "effects", tmp_path / "starts"
    workflow = workflow_build(
        steps=[
            {"name": "first", "block": "test-count", "config": {"path": str(counter)}},
            {
                "name": "slow",
                "block": "test-sleep",
                "config": {"seconds": 3, "log": str(log)},
                "timeout_seconds": 5,
            },
            {"name": "last", "block": "test-count", "config": {"path": str(counter)}},
        ],
        edges=[("first", "out", "slow"), ("slow", "out", "last")],
        output={"last": "{{ steps.last.output.count }}"},
    )
    worker_a = _cluster(processes, tmp_path, "a")
    run = run_start(workflow=workflow, input={}, triggered_by=None)
    assert wait_until(lambda: log.exists() and "start slow" in log.read_text(), 60), (
        tmp_path / "a.log"
    ).read_text()[-3000:]
    _kill_tree(worker_a)  # mid-step: the lease (5 s + 1 s grace) is still held
    slow = StepRun.objects.get(run=run, step__name="slow")
    assert slow.status == StepRun.Status.RUNNING
    worker_b = _cluster(processes, tmp_path, "b")
    # The every-minute sweep, called when the lease has lapsed.
    assert wait_until(lambda: workflows_catch_up().released == [slow.pk], 20)
    run = run_wait(run_id=run.pk, timeout=60)
    assert run.status == Run.Status.SUCCEEDED, (tmp_path / "b.log").read_text()[-3000:]
    assert run.output == {"last": 2}
    # Each side effect happened once; the slow step started twice (retried), and each
    # step is recorded once.
    assert [line.split()[0] for line in counter.read_text().splitlines()] == ["first", "last"]
    assert log.read_text().splitlines() == ["start slow", "start slow"]
    rows = StepRun.objects.filter(run=run)
    assert sorted(rows.values_list("step__name", "status")) == [
        ("first", "succeeded"),
        ("last", "succeeded"),
        ("slow", "succeeded"),
    ]
    slow.refresh_from_db()
    assert slow.attempt == 2
    assert AuditEvent.objects.filter(action="workflows.step_lease_expired").count() == 1
    _kill_tree(worker_b)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_branches_run_on_two_workers_and_join_once(tmp_path):
    log = tmp_path / "starts"
    workflow = workflow_build(
        steps=[
            {"name": "a", "block": "test-echo", "config": {"value": 1}},
            {"name": "left", "block": "test-sleep", "config": {"seconds": 1, "log": str(log)}},
            {"name": "right", "block": "test-sleep", "config": {"seconds": 1, "log": str(log)}},
            {"name": "join", "block": "test-echo", "config": {"value": "joined"}},
        ],
        edges=[
            ("a", "out", "left"),
            ("a", "out", "right"),
            ("left", "out", "join"),
            ("right", "out", "join"),
        ],
        output={"join": "{{ steps.join.output }}"},
    )
    run = run_start(workflow=workflow, input={}, triggered_by=None)
    first = run.step_runs.get()
    # Record the start step only (both branches become ready), then two workers at once.
    from workflows.services.execution import Runner

    Runner("starter").execute_one(first.pk, enqueue=False)
    branches = list(
        StepRun.objects.filter(run=run, status=StepRun.Status.PENDING).values_list("pk", flat=True)
    )
    assert len(branches) == 2
    started = time.monotonic()
    results, errors = run_together(lambda i: step_run_execute(step_run_id=branches[i]), 2)
    assert errors == []
    assert time.monotonic() - started >= 1  # both slept
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.output == {"join": "joined"}
    assert StepRun.objects.filter(run=run, step__name="join").count() == 1
    assert sorted(results) == [1, 2]  # one worker went on to the join, the other did not
    assert sorted(log.read_text().splitlines()) == ["start left", "start right"]
