"""Durability: what a lost enqueue or a killed worker left behind is found from the
database every minute (``workflows_catch_up``), never from the queue."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from decisions.services import audit_log
from workflows.models import Run, StepRun
from workflows.services.enqueue import step_runs_enqueue
from workflows.services.governance import step_waits_settle
from workflows.services.runs import run_time_out
from workflows.services.transitions import status_move

#: A pending step run younger than this is presumed still in the queue.
ENQUEUE_GRACE = timedelta(seconds=30)


def step_lease_expire(*, step_run_id: int, now: datetime | None = None) -> bool:
    """A running step whose lease lapsed (its worker died) goes back to pending,
    audited ``workflows.step_lease_expired``; the next claim runs it again (or records
    it failed, when it has side effects and is not idempotent). False if the lease was
    live or the row had moved on."""
    now = now or timezone.now()
    with transaction.atomic():
        step_run = StepRun.objects.select_related("run", "step").get(pk=step_run_id)
        if not status_move(
            StepRun,
            pk=step_run_id,
            sources=[StepRun.Status.RUNNING],
            target=StepRun.Status.PENDING,
            where=Q(lease_expires_at__lte=now),
            lease_owner="",
            lease_expires_at=None,
            error_class="lease_expired",
            error_message=f"the worker {step_run.lease_owner} stopped before recording",
        ):
            return False
        audit_log(
            action="workflows.step_lease_expired",
            subject=step_run.run,
            data={
                "step": step_run.step.name,
                "step_run": step_run.pk,
                "owner": step_run.lease_owner,
                "attempt": step_run.attempt,
            },
        )
    return True


@dataclass
class CatchUp:
    """What one sweep did."""

    timed_out: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    enqueued: list[int] = field(default_factory=list)
    #: Waiting steps failed because their decision ended unapproved (governance).
    refused: list[int] = field(default_factory=list)


def workflows_catch_up(*, now: datetime | None = None) -> CatchUp:
    """Time out late runs, release lapsed leases, fail the waiting steps a person refused
    (the decisions app has no rejection hook: ``step_waits_settle``), and queue the graph
    step runs that are due and nobody queued (a lost enqueue, a released lease, a long
    retry backoff).

    Tool calls and the steps of subflows are left alone: they run inline in the worker
    of the step that made them, which picks them up again when it is retried.
    """
    now = now or timezone.now()
    done = CatchUp()
    for run_id in Run.objects.filter(
        status__in=Run.OPEN_STATUSES, deadline_at__lte=now
    ).values_list("pk", flat=True):
        if run_time_out(run_id=run_id, now=now):
            done.timed_out.append(run_id)
    for step_run_id in StepRun.objects.filter(
        status=StepRun.Status.RUNNING, lease_expires_at__lte=now
    ).values_list("pk", flat=True):
        if step_lease_expire(step_run_id=step_run_id, now=now):
            done.released.append(step_run_id)
    done.refused = step_waits_settle(now=now)
    due = StepRun.objects.filter(
        status=StepRun.Status.PENDING,
        parent__isnull=True,
        run__parent_step_run__isnull=True,
        run__status__in=Run.OPEN_STATUSES,
    )
    fresh = now - ENQUEUE_GRACE
    for step_run in due.only("pk", "run_after", "created_at", "error_class"):
        if step_run.pk in done.released:
            done.enqueued.append(step_run.pk)
        elif step_run.run_after is not None:
            if step_run.run_after <= now:
                done.enqueued.append(step_run.pk)
        elif step_run.created_at <= fresh:
            done.enqueued.append(step_run.pk)
    with transaction.atomic():
        step_runs_enqueue(done.enqueued)
    return done
