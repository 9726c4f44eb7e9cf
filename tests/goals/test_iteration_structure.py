"""Issue 8, "one iteration, readable in one place": the contracts the refactor keeps.

Transition tables checked against the services, LoopState written only by its
services, every path recorded, and stagnation judged on every role's update.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from goals.models import Iteration, LoopState, Task
from goals.selectors import loop_state_get
from goals.services import (
    iteration_run,
    loop_backoff_clear,
    loop_backoff_enter,
    loop_pause,
    loop_resume,
    loop_start,
    loop_stop,
    task_create,
)
from goals.services.queue import (
    LeaseLost,
    TaskTransitionError,
    task_claim_next,
    task_complete,
    task_drop,
    task_fail,
    task_leases_expire,
    task_release,
    task_requeue,
    task_retry,
)
from tests.goals.factories import IdeaFactory
from tests.goals.studio import Studio, StudioClient

pytestmark = pytest.mark.django_db
GOALS = Path(__file__).resolve().parents[2] / "goals"


# --- transition tables ------------------------------------------------------------------


def _loop_in(state: str) -> None:
    LoopState.objects.filter(pk=LoopState.SINGLETON_ID).update(
        state=state, backoff_failures=1 if state == "backing_off" else 0
    )


LOOP_SERVICES = {
    "start": lambda: loop_start(),
    "stop": lambda: loop_stop(),
    "pause": lambda: loop_pause(reason="test"),
    "resume": lambda: loop_resume(),
    "backoff_enter": lambda: loop_backoff_enter(error_class="timeout", detail="slow"),
    "backoff_clear": lambda: loop_backoff_clear(),
}


def test_the_loop_state_table_is_exactly_what_its_services_do(theme):
    seen: set[tuple[str, str]] = set()
    for start in LoopState.State.values:
        for service in LOOP_SERVICES.values():
            _loop_in(start)
            service()
            after = loop_state_get().state
            if after != start:
                seen.add((start, after))
    table = {(a, b) for a, targets in LoopState.TRANSITIONS.items() for b in targets}
    assert seen == table


def _task_in(theme, status: str, *, worker: str = "w") -> Task:
    task = Task.objects.create(theme=theme, kind="generate", priority=50)
    fields = {"status": status}
    if status == Task.Status.RUNNING:
        # A claim counted an attempt.
        fields |= {
            "lease_owner": worker,
            "lease_expires_at": timezone.now() + dt.timedelta(1),
            "attempts": 1,
        }
    Task.objects.filter(pk=task.pk).update(**fields)
    task.refresh_from_db()
    return task


def test_the_task_table_is_exactly_what_its_services_do(theme, django_user_model):
    alice = django_user_model.objects.create_superuser("alice", "a@example.com", "pw")

    def expire(task):
        Task.objects.filter(pk=task.pk).update(lease_expires_at=timezone.now() - dt.timedelta(1))
        task_leases_expire()

    def expire_for_good(task):
        Task.objects.filter(pk=task.pk).update(lease_losses=99)
        expire(task)

    services = {
        "claim": lambda t: task_claim_next(theme=theme, worker="w"),
        "complete": lambda t: task_complete(task=t, worker="w"),
        "fail": lambda t: task_fail(task=t, worker="w", error_class="x", detail="y"),
        "fail_last": lambda t: (
            Task.objects.filter(pk=t.pk).update(attempts=t.max_attempts),
            task_fail(task=t, worker="w", error_class="x", detail="y"),
        ),
        "fail_permanent": lambda t: task_fail(
            task=t, worker="w", error_class="x", detail="y", permanent=True
        ),
        "release": lambda t: task_release(task=t, worker="w", reason="down"),
        "expire": expire,
        "expire_for_good": expire_for_good,
        "requeue": lambda t: task_requeue(task=t, actor=alice),
        "retry": lambda t: task_retry(task=t, actor=alice),
        "drop": lambda t: task_drop(task=t, actor=alice),
    }
    seen: set[tuple[str, str]] = set()
    for start in Task.Status.values:
        for service in services.values():
            Task.objects.all().delete()
            task = _task_in(theme, start)
            try:
                with transaction.atomic():
                    service(task)
            except (TaskTransitionError, LeaseLost):
                continue  # refused: nothing changed
            after = Task.objects.get(pk=task.pk).status
            if after != start:
                seen.add((start, after))
    table = {(a, b) for a, targets in Task.TRANSITIONS.items() for b in targets}
    assert seen == table


def test_a_transition_the_table_does_not_list_is_refused(theme, monkeypatch):
    monkeypatch.setitem(Task.TRANSITIONS, Task.Status.RUNNING, (Task.Status.READY,))
    task = _task_in(theme, Task.Status.RUNNING)
    with pytest.raises(Exception, match="not an allowed transition"):
        task_complete(task=task, worker="w")
    assert Task.objects.get(pk=task.pk).status == Task.Status.RUNNING


# --- LoopState: one writer, created by a migration, read by a selector -------------------


def _writes_loop_state(path: Path) -> list[int]:
    """Lines where ``path`` writes LoopState rows (querysets or instances)."""
    tree = ast.parse(path.read_text())
    lines = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        source = ast.unparse(node.func.value)
        writes = {"update", "create", "get_or_create", "update_or_create", "select_for_update"}
        if (node.func.attr in writes and "LoopState" in source) or (
            node.func.attr == "save" and source == "state"
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_loop_service_writes_loop_state():
    writers = {
        str(path.relative_to(GOALS.parent)): lines
        for path in GOALS.rglob("*.py")
        if "migrations" not in path.parts and (lines := _writes_loop_state(path))
    }
    assert set(writers) == {"goals/services/loop.py"}, writers


def test_the_singleton_exists_from_the_migration_and_reading_it_writes_nothing():
    assert LoopState.objects.filter(pk=LoopState.SINGLETON_ID).exists()
    LoopState.objects.all().delete()
    state = loop_state_get()
    assert state.state == LoopState.State.STOPPED
    assert not LoopState.objects.exists()


def test_the_admin_needs_no_management_command():
    tree = ast.parse((GOALS / "admin.py").read_text())
    modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)] + [
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    ]
    assert not [m for m in modules if ".management" in m]


# --- every path ends in a recorded iteration ------------------------------------------------


def test_a_context_that_cannot_fit_its_budget_is_recorded_and_settles_the_task(theme, settings):
    settings.GOALS_CONTEXT_TOKEN_BUDGET = 500  # less than the example theme's brand text
    task, _ = task_create(theme=theme, kind="generate", priority=90)
    loop_start()
    client = StudioClient()
    report = iteration_run(worker="w", scheduled=False, client=client)
    assert report.ran
    it = report.iteration
    assert (it.outcome, it.error_class, it.task_id) == ("failed", "context_budget", task.pk)
    assert "token budget 500" in it.error_detail
    task.refresh_from_db()
    assert task.status != Task.Status.RUNNING and not task.lease_owner
    assert client.requests == []
    # Every call would fail the same way: the loop waits for a person.
    assert loop_state_get().state == LoopState.State.PAUSED
    assert "context budget" in loop_state_get().reason


# --- stagnation is judged on every role's update -----------------------------------------


def test_twenty_identical_refine_edit_critique_answers_queue_a_shake_up(theme):
    ideas = [IdeaFactory(theme=theme, title=f"Idea {n}") for n in range(3)]
    for n in range(20):
        kind = ("refine", "edit", "critique")[n % 3]
        task_create(theme=theme, kind=kind, priority=80, ideas=[ideas[n % 3]])
    client = StudioClient(Studio(repeat=True))
    for _ in range(20):
        iteration_run(worker="w", scheduled=False, client=client)
    first = Iteration.objects.order_by("id").filter(role="ideator").first()
    shake_up = Task.objects.filter(theme=theme, kind="shake_up").order_by("id").first()
    assert shake_up is not None, "no shake-up queued"
    # Queued by a repeating critic or editor: no ideator had answered before it.
    assert shake_up.created_by_iteration.role in {"critic", "editor"}
    assert first is None or first.pk > shake_up.created_by_iteration_id
    assert loop_state_get().stalled_since is not None
