"""The task queue: create, claim with a lease, complete, fail, release, requeue.

Claiming is race-safe on both databases, and one statement: a compare-and-set
``UPDATE … WHERE id = (the first ready task) AND status = 'ready' … RETURNING`` that
takes the row and reads it back at once. On SQLite (one writer at a time) the statement
is the arbiter: of two workers, the second sees the first's row taken and claims the
next. On PostgreSQL the subquery locks its row with ``FOR UPDATE SKIP LOCKED``, so
concurrent workers pass over each other's rows instead of queueing on them. Where the
database cannot return rows from an ``UPDATE`` the claim reads the candidate first and
then compare-and-sets it (the same choice, two statements).

The lease is the only proof of ownership: ``task_complete`` and ``task_fail`` check
``lease_owner`` in their ``WHERE`` clause, so a worker that stalled past its lease (and
whose task was reclaimed) changes nothing and learns it from ``LeaseLost``. Leases are
short and renewed by the worker's heartbeat (``task_leases_renew``), so a dead worker's
task comes back within about a minute while a live worker's long model call keeps it.

A lapsed lease is not a failure of the task: the worker died (a crash, a kill, a
restart). Its task goes back to the queue with its attempt given back and the loss
counted in ``lease_losses``, blocked only after ``GOALS_MAX_LEASE_LOSSES`` of them. A
blocked task waits for a person, who retries or drops it (``task_retry``,
``task_drop``), and the log says so the moment it is blocked.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import F, Field, Model, Q, QuerySet, Subquery
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.translation import gettext

from bizagent.leases import (
    can_return_rows_from_update,
    lease_claim,
    lease_claim_returning,
    lease_claim_returning_sql,
    lease_release,
    lease_release_row,
    lease_renew,
    rows_returned,
)
from bizagent.sql import (
    column,
    columns,
    models_from_rows,
    placeholders,
    rows_fetch,
    rows_insert,
    statement,
    table,
    value,
)
from decisions.actors import Actor
from decisions.services import audit_log
from goals.conf import conf
from goals.models import Iteration, Task
from ideas.models import Theme

logger = logging.getLogger(__name__)

#: The permission a person needs to retry or drop a blocked task.
TASK_CHANGE_PERMISSION = "goals.change_task"

#: How many already-taken candidates a SQLite claim skips before giving up this round.
_CLAIM_CANDIDATES = 5


class LeaseLost(Exception):
    """The task is no longer leased to this worker: someone reclaimed it."""


class TaskTransitionError(Exception):
    """The task is not in a state that allows the requested transition."""


def transition_sources(*sources: str, to: str) -> tuple[str, ...]:
    """The statuses a service moves from, checked against ``Task.TRANSITIONS``.

    Every compare-and-set below filters on the statuses this returns, so a service can
    only make a change the table lists; one the table does not list is refused loudly.
    """
    for source in sources:
        if to not in Task.TRANSITIONS[source]:
            raise TaskTransitionError(f"task: {source} → {to} is not an allowed transition")
    return sources


@dataclass(frozen=True)
class TaskSpec:
    """One task for ``tasks_create``: the arguments of ``task_create`` but the theme."""

    kind: str
    priority: int = 50
    ideas: tuple[Any, ...] = ()
    brief: str = ""
    dedupe_key: str = ""
    metadata: dict[str, Any] | None = None
    max_attempts: int = 3


#: The fields a ``TaskSpec`` sets: every other field of a new task holds its default
#: (ready, no attempts, no lease), which a test shows passes ``full_clean``.
_SPEC_FIELDS = ("kind", "priority", "brief", "dedupe_key", "metadata", "max_attempts")


def _task_build(*, theme: Theme, spec: TaskSpec, created_by_iteration: Iteration | None) -> Task:
    task = Task(
        theme=theme,
        kind=spec.kind,
        priority=spec.priority,
        brief=spec.brief,
        dedupe_key=spec.dedupe_key,
        metadata=spec.metadata or {},
        created_by_iteration=created_by_iteration,
        max_attempts=spec.max_attempts,
    )
    # The field checks of full_clean, in Python, for the fields the spec sets (a kind
    # among the choices, a key within its length, a non-negative attempt cap...): the
    # others hold their defaults, the same for every new task, so checking them again
    # for each task cost ~2/3 of full_clean for nothing. The theme and the iteration are
    # rows in hand (their foreign keys are the database's to check), and the one
    # constraint that can fail (one open task per key) is the insert's to enforce.
    fields_clean(task, _spec_fields())
    return task


#: The types of value whose field checks (choices, length, range: Django's validators)
#: depend on the value alone, so a value that passed once passes again.
_PLAIN_TYPES = frozenset({str, int, bool})
#: (field, type, value) triples that passed ``field.clean`` unchanged. The loop checks the
#: same kinds, roles, modes and workers every iteration: ~60 us of ``clean`` per
#: iteration for a verdict already known. The type is in the key, so ``True`` and ``1``
#: stay apart; only passes are kept, so a bad value is refused every time.
_CLEAN_PASSED: dict[tuple[Field, type, Any], None] = {}
_CLEAN_PASSED_MAX = 4096


def fields_clean(instance: Model, fields: Iterable[Field]) -> None:
    """``full_clean``'s checks of ``fields`` alone, then the model's ``clean()``: the same
    per-field errors, for a caller that knows the instance's other fields hold values
    that need no check (defaults, or ones the database itself checks on insert)."""
    errors: dict[str, list[ValidationError]] = {}
    for field in fields:
        raw = getattr(instance, field.attname)
        if field.blank and raw in field.empty_values:
            continue  # as clean_fields does
        key = (field, type(raw), raw) if type(raw) in _PLAIN_TYPES else None
        if key is not None and key in _CLEAN_PASSED:
            continue  # passed before, and would again: its clean() returned it unchanged
        try:
            cleaned = field.clean(raw, instance)
        except ValidationError as exc:
            errors[field.name] = exc.error_list
            continue
        setattr(instance, field.attname, cleaned)
        if (
            key is not None
            and not field.is_relation
            and type(cleaned) is type(raw)
            and cleaned == raw
        ):
            if len(_CLEAN_PASSED) >= _CLEAN_PASSED_MAX:
                _CLEAN_PASSED.clear()  # bounded: counters such as an iteration's number grow
            _CLEAN_PASSED[key] = None
    try:
        instance.clean()  # the model's own checks, as full_clean runs them
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


@functools.cache
def _spec_fields() -> tuple[Field, ...]:
    return tuple(Task._meta.get_field(name) for name in _SPEC_FIELDS)  # type: ignore[misc]


def _task_ideas_link(tasks: Sequence[tuple[Task, TaskSpec]]) -> None:
    through = Task.ideas.through
    rows = [
        through(task_id=task.pk, idea_id=getattr(idea, "pk", idea))
        for task, spec in tasks
        for idea in dict.fromkeys(spec.ideas)
    ]
    if rows:
        # Written out: bulk_create's machinery cost more than the insert it runs.
        rows_insert(through, rows)


@statement
def _open_by_key_head() -> str:
    return (
        f"SELECT {columns(Task)} FROM {table(Task)} WHERE {column(Task, 'theme')} = %s "  # noqa: S608 - names from model metadata
        f"AND {column(Task, 'status')} IN ({placeholders(len(Task.OPEN_STATUSES))}) "
        f"AND {column(Task, 'dedupe_key')} IN "
    )


def _open_by_key(theme: Theme, keys: Iterable[str]) -> dict[str, Task]:
    """The theme's open tasks whose ``dedupe_key`` is among ``keys``, by key. Written out
    (read whenever a role queues work): the ORM's build of it cost ~20x the statement."""
    wanted = sorted({key for key in keys if key})
    if not wanted:
        return {}
    sql = _open_by_key_head() + "(" + placeholders(len(wanted)) + ")"
    rows = rows_fetch(sql, [theme.pk, *(status.value for status in Task.OPEN_STATUSES), *wanted])
    return {task.dedupe_key: task for task in models_from_rows(Task, rows)}


def _task_create_one(
    *, theme: Theme, spec: TaskSpec, created_by_iteration: Iteration | None
) -> tuple[Task, bool]:
    """One task in its own savepoint: the slow path after a batch lost a race."""
    task = _task_build(theme=theme, spec=spec, created_by_iteration=created_by_iteration)
    try:
        with transaction.atomic():
            task.save()
            _task_ideas_link([(task, spec)])
    except IntegrityError:
        if not spec.dedupe_key:
            raise
        existing = _open_by_key(theme, [spec.dedupe_key]).get(spec.dedupe_key)
        if existing is None:
            raise
        return existing, False
    return task, True


def tasks_create(
    *,
    theme: Theme,
    specs: Sequence[TaskSpec],
    created_by_iteration: Iteration | None = None,
) -> list[tuple[Task, bool]]:
    """Queue several tasks at a fixed cost; per spec, ``(task, created)`` in order.

    A spec whose ``dedupe_key`` names an open task (or an earlier spec of the batch)
    returns that task instead. The open keys are read once and the new tasks inserted
    together with their ideas (a read and two inserts, however many tasks). The
    conditional unique constraint on open tasks is what makes the dedupe hold: a
    concurrent writer that queued one of the keys between the read and the insert makes
    the insert fail, and the batch is then redone one task at a time, each finding the
    other writer's task.
    """
    results: list[tuple[Task, bool] | None] = [None] * len(specs)
    known = _open_by_key(theme, (spec.dedupe_key for spec in specs))
    fresh: list[tuple[int, Task, TaskSpec]] = []
    for index, spec in enumerate(specs):
        if spec.dedupe_key and spec.dedupe_key in known:
            results[index] = (known[spec.dedupe_key], False)
            continue
        task = _task_build(theme=theme, spec=spec, created_by_iteration=created_by_iteration)
        if spec.dedupe_key:
            known[spec.dedupe_key] = task
        fresh.append((index, task, spec))
        results[index] = (task, True)
    if fresh:
        try:
            with transaction.atomic():
                rows_insert(Task, [task for _, task, _ in fresh])
                _task_ideas_link([(task, spec) for _, task, spec in fresh])
        except IntegrityError:
            return [
                _task_create_one(theme=theme, spec=spec, created_by_iteration=created_by_iteration)
                for spec in specs
            ]
    return [result for result in results if result is not None]


def task_create(
    *,
    theme: Theme,
    kind: str,
    priority: int = 50,
    ideas: Iterable[Any] = (),
    brief: str = "",
    dedupe_key: str = "",
    metadata: dict[str, Any] | None = None,
    created_by_iteration: Iteration | None = None,
    max_attempts: int = 3,
) -> tuple[Task, bool]:
    """Queue a task; with ``dedupe_key``, an open task with the same key is returned instead.

    Returns ``(task, created)``. The conditional unique constraint on open tasks is what
    makes the dedupe hold under concurrency (see ``tasks_create``).
    """
    spec = TaskSpec(
        kind=kind,
        priority=priority,
        ideas=tuple(ideas),
        brief=brief,
        dedupe_key=dedupe_key,
        metadata=metadata,
        max_attempts=max_attempts,
    )
    return tasks_create(theme=theme, specs=[spec], created_by_iteration=created_by_iteration)[0]


def _ready(theme: Theme, now: dt.datetime) -> QuerySet[Task]:
    return _ready_of(theme.pk, now)


def _ready_of(theme_id: int, now: dt.datetime) -> QuerySet[Task]:
    return (
        Task.objects.filter(theme_id=theme_id, status=Task.Status.READY)
        .filter(Q(run_after__isnull=True) | Q(run_after__lte=now))
        .order_by("-priority", "created_at", "id")
    )


def _lease_duration() -> dt.timedelta:
    return dt.timedelta(seconds=conf().lease_seconds)


def _claim_changes(now: dt.datetime) -> dict[str, Any]:
    """What a claim writes besides the lease: READY → RUNNING, one attempt more."""
    return {"status": Task.Status.RUNNING, "attempts": F("attempts") + 1, "last_run_at": now}


def _claimable(rows: QuerySet[Task]) -> QuerySet[Task]:
    # Only READY rows are offered, so a RUNNING task whose lease lapsed is not taken here:
    # ``task_leases_expire`` first gives it back (and counts the lost lease).
    return rows.filter(status__in=transition_sources(Task.Status.READY, to=Task.Status.RUNNING))


def _lease_take(rows: Any, *, worker: str, now: dt.datetime) -> int:
    """The claim itself (``bizagent.leases``): READY → RUNNING under ``worker``'s lease."""
    return lease_claim(
        _claimable(rows), owner=worker, now=now, duration=_lease_duration(), **_claim_changes(now)
    )


def _first_ready_claim(theme_id: int, *, worker: str, now: dt.datetime) -> QuerySet[Task]:
    """The claim's rows: the first ready task (a subquery: the choice ``_ready`` makes),
    if still ready; a row another worker took first is simply not changed."""
    first = _ready_of(theme_id, now)
    if connection.features.has_select_for_update_skip_locked:
        first = first.select_for_update(skip_locked=True, of=("self",))
    return _claimable(Task.objects.filter(pk=Subquery(first.values("pk")[:1])))


# Stand-ins compiled into the claim's statement once (``_claim_statement``) where the
# call's own values go; no real theme, worker or time is ever one of them.
_THEME_SLOT = -770_001
_WORKER_SLOT = "claim-worker-stand-in-7f3a"
_NOW_SLOT = dt.datetime(1901, 2, 3, 4, 5, 6, 70_809, tzinfo=dt.UTC)


@functools.lru_cache(maxsize=8)
def _claim_statement(
    alias: str, vendor: str, lease_seconds: int
) -> tuple[str, tuple[tuple[str, Any], ...]] | None:
    """The claim's ``UPDATE … RETURNING`` as Django compiles it, compiled once per process.

    Compiling the ORM's claim (a subquery, an ``OR`` of lease conditions, an ordering)
    cost more than running it. The statement is compiled with stand-ins for the call's
    values, and each parameter is recorded as the slot it stands for or as a constant;
    a claim then fills in the slots (``_claim_params``). None when a stand-in did not
    come through as itself (nothing is guessed: the claim is then compiled per call).
    """
    ops = connections[alias].ops
    now = _NOW_SLOT
    expires = now + dt.timedelta(seconds=lease_seconds)
    sql, params = lease_claim_returning_sql(
        _first_ready_claim(_THEME_SLOT, worker=_WORKER_SLOT, now=now).using(alias),
        owner=_WORKER_SLOT,
        now=now,
        duration=dt.timedelta(seconds=lease_seconds),
        **_claim_changes(now),
    )
    stand_ins = {
        "theme": _THEME_SLOT,
        "worker": _WORKER_SLOT,
        "now": ops.adapt_datetimefield_value(now),
        "expires": ops.adapt_datetimefield_value(expires),
    }
    slots: list[tuple[str, Any]] = []
    for param in params:
        slot = next((name for name, value in stand_ins.items() if param == value), "")
        slots.append((slot, param))
    if {slot for slot, _ in slots} - {""} != set(stand_ins):
        return None
    return sql, tuple(slots)


def _claim_params(
    slots: Sequence[tuple[str, Any]], *, theme_id: int, worker: str, now: dt.datetime
) -> list[Any]:
    ops = connection.ops
    values = {
        "theme": theme_id,
        "worker": worker,
        "now": ops.adapt_datetimefield_value(now),
        "expires": ops.adapt_datetimefield_value(now + _lease_duration()),
    }
    return [values[slot] if slot else constant for slot, constant in slots]


def _lease_take_first(theme: Theme, *, worker: str, now: dt.datetime) -> Task | None:
    """The claim of the first ready task, returning it as claimed: one statement."""
    statement = _claim_statement(connection.alias, connection.vendor, conf().lease_seconds)
    if statement is None:
        claimed = lease_claim_returning(
            _first_ready_claim(theme.pk, worker=worker, now=now),
            owner=worker,
            now=now,
            duration=_lease_duration(),
            **_claim_changes(now),
        )
    else:
        sql, slots = statement
        params = _claim_params(slots, theme_id=theme.pk, worker=worker, now=now)
        claimed = rows_returned(Task, using=connection.alias, sql=sql, params=params)
    return claimed[0] if claimed else None


def task_claim_next(*, theme: Theme, worker: str, now: dt.datetime | None = None) -> Task | None:
    """Lease the highest-priority ready task of ``theme`` to ``worker``, or None.

    Each claim counts an attempt; ``task_release`` gives it back when the failure was not
    the task's fault (the model server was down).
    """
    now = now or timezone.now()
    transition_sources(Task.Status.READY, to=Task.Status.RUNNING)
    if can_return_rows_from_update(connection.alias):
        if connection.features.has_select_for_update_skip_locked:
            # The subquery's row lock needs a transaction (it ends with the statement).
            with transaction.atomic():
                return _lease_take_first(theme, worker=worker, now=now)
        return _lease_take_first(theme, worker=worker, now=now)
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            task = _ready(theme, now).select_for_update(skip_locked=True, of=("self",)).first()
            if task is None:
                return None
            _lease_take(Task.objects.filter(pk=task.pk), worker=worker, now=now)
        task.refresh_from_db()
        return task
    for _ in range(_CLAIM_CANDIDATES):
        candidate = _ready(theme, now).first()
        if candidate is None:
            return None
        # Compare-and-set on the attempts read as well: a claim that succeeds leaves the
        # row as read plus what the claim wrote, so it needs no second read.
        claimed = _lease_take(
            Task.objects.filter(pk=candidate.pk, attempts=candidate.attempts),
            worker=worker,
            now=now,
        )
        if claimed:
            candidate.status = Task.Status.RUNNING
            candidate.lease_owner = worker
            candidate.lease_expires_at = now + _lease_duration()
            candidate.attempts += 1
            candidate.last_run_at = now
            return candidate
    return None


@statement
def _leases_lapsed_sql() -> str:
    """The running tasks whose lease lapsed (id, owner, losses), by id. Written out: the
    loop asks on every iteration and nearly always finds nothing, and building the ORM's
    query cost ~25 times running it. Parameters: the running status, the time."""
    return (
        f"SELECT {column(Task, 'id')}, {column(Task, 'lease_owner')}, "  # noqa: S608 - names from model metadata
        f"{column(Task, 'lease_losses')} FROM {table(Task)} "
        f"WHERE {column(Task, 'status')} = %s AND {column(Task, 'lease_expires_at')} < %s "
        f"ORDER BY {column(Task, 'id')}"
    )


def task_leases_expire(*, now: dt.datetime | None = None) -> list[int]:
    """Return tasks whose worker died (lease lapsed) to the queue, without spending an
    attempt; block a task once its workers died ``GOALS_MAX_LEASE_LOSSES`` times.

    Attempts count the task's own failures. A worker killed under a task says nothing
    about the task, so three crashes of a cluster must not block good work; but a task
    that kills its worker every time (it runs out of memory) must not loop forever
    either, hence the separate, more generous cap.
    """
    now = now or timezone.now()
    cap = conf().max_lease_losses
    expired = rows_fetch(
        _leases_lapsed_sql(),
        [Task.Status.RUNNING.value, value(Task, "lease_expires_at", now)],
    )
    returned = []
    for pk, owner, losses in expired:
        losses += 1
        exhausted = losses >= cap
        target = Task.Status.BLOCKED if exhausted else Task.Status.READY
        transition_sources(Task.Status.RUNNING, to=target)
        reason = (
            f"its worker died {losses} times (last: {owner})"
            if exhausted
            else f"lease of {owner} lapsed (worker died?); back in the queue"
        )
        with transaction.atomic():
            changed = Task.objects.filter(
                pk=pk, status=Task.Status.RUNNING, lease_owner=owner, lease_expires_at__lt=now
            ).update(
                status=target,
                lease_owner="",
                lease_expires_at=None,
                # The claim counted an attempt; the task did not fail, so give it back.
                attempts=Greatest(F("attempts") - 1, 0),
                lease_losses=F("lease_losses") + 1,
                last_error=reason,
                finished_at=now if exhausted else None,
            )
            if changed:
                task = Task.objects.get(pk=pk)
                audit_log(
                    action="goals.task_blocked" if exhausted else "goals.task_lease_expired",
                    subject=task,
                    data={"worker": owner, "lease_losses": losses, "to": target},
                )
                returned.append(pk)
        if changed and exhausted:
            _log_blocked(task_id=pk, why=f": {reason}")
    return returned


def task_leases_renew(*, worker: str, now: dt.datetime | None = None) -> int:
    """The heartbeat: extend every task lease ``worker`` holds; returns how many.

    Only the lease's expiry moves, and only while ``worker`` still holds it, so a
    worker presumed dead (its task reclaimed) cannot take the task back by beating.
    """
    now = now or timezone.now()
    return lease_renew(
        Task.objects.filter(status=Task.Status.RUNNING),
        owner=worker,
        now=now,
        duration=_lease_duration(),
    )


def _log_blocked(*, task_id: int, why: str) -> None:
    """The WARNING an operator sees in the log the moment a task needs a person."""
    logger.warning("task %s blocked%s — retry or drop it in the admin", task_id, why)


def task_complete(*, task: Task, worker: str, now: dt.datetime | None = None) -> None:
    """RUNNING → DONE; call inside the transaction that persists the task's results.

    Raises ``LeaseLost`` when the lease moved on, which rolls back that transaction: the
    results of a worker that lost its task are never written twice.
    """
    now = now or timezone.now()
    transition_sources(Task.Status.RUNNING, to=Task.Status.DONE)
    changed = lease_release_row(
        Task,
        pk=task.pk,
        owner=worker,
        still={"status": Task.Status.RUNNING},
        status=Task.Status.DONE,
        finished_at=now,
        last_error="",
    )
    if not changed:
        raise LeaseLost(f"task {task.pk} is no longer leased to {worker}")
    task.status = Task.Status.DONE


def task_fail(
    *,
    task: Task,
    worker: str,
    error_class: str,
    detail: str,
    permanent: bool = False,
    now: dt.datetime | None = None,
) -> str:
    """RUNNING → READY (retry later), BLOCKED (attempts used up) or FAILED (``permanent``).

    Call inside the transaction that records the failed iteration. Returns the new status;
    raises ``LeaseLost`` when the task is no longer this worker's.
    """
    now = now or timezone.now()
    current = Task.objects.filter(pk=task.pk).values_list("attempts", "max_attempts").first()
    if current is None:
        raise LeaseLost(f"task {task.pk} no longer exists")
    attempts, max_attempts = current
    if permanent:
        target = Task.Status.FAILED
    elif attempts >= max_attempts:
        target = Task.Status.BLOCKED
    else:
        target = Task.Status.READY
    transition_sources(Task.Status.RUNNING, to=target)
    delay = conf().retry_delay_seconds * (2 ** max(0, attempts - 1))
    changed = lease_release(
        Task.objects.filter(pk=task.pk, status=Task.Status.RUNNING),
        owner=worker,
        status=target,
        last_error=f"{error_class}: {detail}"[:4000],
        run_after=now + dt.timedelta(seconds=delay) if target == Task.Status.READY else None,
        finished_at=now if target != Task.Status.READY else None,
    )
    if not changed:
        raise LeaseLost(f"task {task.pk} is no longer leased to {worker}")
    if target != Task.Status.READY:
        audit_log(
            action="goals.task_blocked" if target == Task.Status.BLOCKED else "goals.task_failed",
            subject=task,
            data={"error_class": error_class, "detail": detail[:500], "attempts": attempts},
        )
    task.status = target
    if target == Task.Status.BLOCKED:
        why = f" after {attempts} attempts: {error_class}: {detail}"[:1000]
        transaction.on_commit(lambda: _log_blocked(task_id=task.pk, why=why))
    return target


def task_release(*, task: Task, worker: str, reason: str) -> bool:
    """RUNNING → READY without spending an attempt: the failure was not the task's.

    Returns False when the lease had already moved on (nothing to give back).
    """
    transition_sources(Task.Status.RUNNING, to=Task.Status.READY)
    changed = lease_release(
        Task.objects.filter(pk=task.pk, status=Task.Status.RUNNING),
        owner=worker,
        status=Task.Status.READY,
        attempts=F("attempts") - 1,
        last_error=reason[:4000],
    )
    return bool(changed)


def task_requeue(*, task: Task, actor: Actor = None) -> Task:
    """BLOCKED or FAILED → READY with fresh attempts: a person decided to try again."""
    with transaction.atomic():
        changed = Task.objects.filter(
            pk=task.pk,
            status__in=transition_sources(
                Task.Status.BLOCKED, Task.Status.FAILED, to=Task.Status.READY
            ),
        ).update(status=Task.Status.READY, attempts=0, run_after=None, finished_at=None)
        if not changed:
            task.refresh_from_db()
            raise TaskTransitionError(
                f"task {task.pk} is {task.status}; only blocked or failed tasks can be requeued"
            )
        task.refresh_from_db()
        audit_log(action="goals.task_requeued", actor=actor, subject=task, data={})
    return task


def _person_may_change(actor: Actor) -> None:
    if actor is None or not actor.has_perm(TASK_CHANGE_PERMISSION):
        raise PermissionDenied(f"changing tasks needs the {TASK_CHANGE_PERMISSION} permission")


def _blocked_transition(*, task: Task, actor: Actor, action: str, **fields: Any) -> Task:
    """BLOCKED → something, by a person: compare-and-set on the status, audited in the
    same transaction; of two people clicking at once, one wins and the other is told."""
    _person_may_change(actor)
    with transaction.atomic():
        try:
            with transaction.atomic():
                changed = Task.objects.filter(
                    pk=task.pk,
                    status__in=transition_sources(Task.Status.BLOCKED, to=fields["status"]),
                ).update(**fields)
        except IntegrityError:
            raise TaskTransitionError(
                f"task {task.pk}: an open task with the same key is already queued; drop this one"
            ) from None
        task.refresh_from_db()
        if not changed:
            raise TaskTransitionError(
                gettext(
                    "task %(id)s is %(status)s, not blocked: someone else has already dealt with it"
                )
                % {"id": task.pk, "status": task.get_status_display().lower()}
            )
        audit_log(action=action, actor=actor, subject=task, data={"to": task.status})
    return task


def task_retry(*, task: Task, actor: Actor) -> Task:
    """BLOCKED → READY with fresh attempts and lease losses: a person said try again.

    Needs ``goals.change_task``; raises ``TaskTransitionError`` when the task is no
    longer blocked (someone else retried or dropped it first).
    """
    return _blocked_transition(
        task=task,
        actor=actor,
        action="goals.task_retried",
        status=Task.Status.READY,
        attempts=0,
        lease_losses=0,
        run_after=None,
        finished_at=None,
    )


def task_drop(*, task: Task, actor: Actor) -> Task:
    """BLOCKED → DROPPED: a person decided the work is not worth doing; it stays in the
    log with its reason but never runs again.

    Needs ``goals.change_task``; raises ``TaskTransitionError`` when the task is no
    longer blocked.
    """
    return _blocked_transition(
        task=task,
        actor=actor,
        action="goals.task_dropped",
        status=Task.Status.DROPPED,
        finished_at=timezone.now(),
    )
