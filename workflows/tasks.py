"""django-q2 tasks: thin, idempotent, bounded; each takes ids and calls one service."""

from __future__ import annotations

from workflows.services.catchup import workflows_catch_up
from workflows.services.execution import step_run_execute


def step_run_execute_task(step_run_id: int) -> int:
    """Execute a step run (and straight through); a redelivery is a no-op."""
    return step_run_execute(step_run_id=step_run_id)


def workflows_catch_up_task() -> dict[str, list[int]]:
    """The every-minute sweep: late runs, lapsed leases, refused waits, lost enqueues."""
    done = workflows_catch_up()
    return {
        "timed_out": done.timed_out,
        "released": done.released,
        "refused": done.refused,
        "enqueued": done.enqueued,
    }
