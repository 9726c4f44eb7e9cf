"""Recording an iteration: every path of ``iteration_run`` ends in one of these.

A good answer is persisted with its iteration and the task's completion in one
transaction (``iteration_persist``); a failed call, a task whose ideas are gone, a
snapshot, an answer that could not be written, and an error before the call (the
context does not fit its budget) each record an iteration and settle the task, so no
task is left running until its lease lapses.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Field
from django.utils import timezone

from bizagent.sql import column, rows_fetch, rows_insert, rows_update, statement, table
from goals.conf import conf
from goals.models import Iteration, Task, TaskKind, TokenDay
from goals.roles import HANDLERS
from goals.selectors import recent_directions, recent_update_texts
from goals.services.calls import CallOutcome
from goals.services.loop import loop_stalled_clear, loop_stalled_mark, loop_tokens_add
from goals.services.persist import PRIORITY_META_REVIEW, PRIORITY_SHAKE_UP, PRIORITY_SNAPSHOT
from goals.services.queue import (
    LeaseLost,
    fields_clean,
    task_complete,
    task_create,
    task_fail,
    task_release,
)
from goals.services.work import Work
from ideas.services import snapshot_create
from ideas.stagnation import jaccard, stagnation_check, text_tokens

logger = logging.getLogger(__name__)


@dataclass
class StagnationVerdict:
    stalled: bool = False
    similarity: float | None = None


def stagnation_assess(*, work: Work, parsed: Any) -> StagnationVerdict:
    """Is this role repeating itself? Every role's update is judged, each against the
    role's own recent updates (a critique is compared with critiques, not with ideas)."""
    handler = HANDLERS.get(work.role)
    if handler is None:
        return StagnationVerdict()
    theme = work.theme
    new_text = handler.update_text(parsed)
    recent = recent_update_texts(
        theme=theme,
        role=work.role,
        limit=max(theme.stagnation_window * 2, 2),
        text_of=handler.update_text,
    )
    # text_similarity's own terms, with the new text's word set looked up once, not once
    # per recent update.
    new_tokens = text_tokens(new_text)
    similarity = max((jaccard(new_tokens, text_tokens(old)) for old in recent), default=None)
    stalled = stagnation_check(
        recent_texts=recent,
        new_text=new_text,
        threshold=theme.stagnation_threshold,
        window=theme.stagnation_window,
    )
    return StagnationVerdict(stalled=stalled, similarity=similarity)


#: The Iteration fields whose values only Python checks (see ``iteration_new``).
_ITERATION_CHECKED = ("task_kind", "number", "worker", "role", "mode", "outcome", "error_class")


@functools.cache
def _iteration_checked() -> tuple[Field, ...]:
    return tuple(Iteration._meta.get_field(name) for name in _ITERATION_CHECKED)  # type: ignore[misc]


def iteration_new(
    *,
    work: Work,
    call: CallOutcome,
    outcome: str,
    started_at: dt.datetime,
    prefix: int,
    error_class: str = "",
    error_detail: str = "",
    similarity: float | None = None,
    summary: dict[str, Any] | None = None,
) -> Iteration:
    """Save the Iteration row of ``work`` with what ``call`` cost and answered (and, when
    the caller knows them before the insert, its similarity and ``summary``, the result)."""
    finished = timezone.now()
    result = call.result
    iteration = Iteration(
        theme=work.theme,
        task=work.task,
        task_kind=work.kind,
        number=work.number,
        worker=work.worker,
        role=work.role,
        mode=work.mode,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        cached_tokens=call.cached_tokens,
        prefix_shared_tokens=prefix,
        model_calls=call.model_calls,
        calls=call.calls,
        normalisations=call.normalisations,
        analysis=call.analysis,
        final=call.final,
        tool_calls=[
            {"name": c.name, "arguments": c.arguments}
            for c in (result.tool_calls if result else [])
        ],
        parsed=result.parsed if result else None,
        outcome=outcome,
        error_class=error_class or call.error_class,
        error_detail=(error_detail or (str(call.error.detail) if call.error else ""))[:4000],
        duration_ms=max(0, int((finished - started_at).total_seconds() * 1000)),
        started_at=started_at,
        finished_at=finished,
        similarity=similarity,
        result={} if summary is None else summary,
    )
    # full_clean's checks where only they guard: the choices, lengths and the required
    # number. The theme and the task are rows this iteration holds (validating the
    # foreign keys would read both again; the database enforces them on insert), the
    # counters are non-negative by the database's CHECK on both backends, the texts and
    # times are set here, and the JSON fields are encoded by the insert itself, which
    # fails inside the transaction: nothing is written either way.
    fields_clean(iteration, _iteration_checked())
    # One transaction with the counter (no savepoint inside the caller's: two statements
    # fewer per iteration; an error here fails the caller's transaction all the same).
    with transaction.atomic(savepoint=False):
        # Written out (no signal listens to Iteration): save()'s machinery cost more
        # than the insert itself.
        rows_insert(Iteration, [iteration])
        tokens_day_add(
            theme_id=work.theme.pk,
            day=timezone.localtime(started_at).date(),
            tokens=iteration.prompt_tokens + iteration.completion_tokens,
        )
    return iteration


def tokens_day_add(*, theme_id: int, day: dt.date, tokens: int) -> None:
    """Add ``tokens`` to the theme's ``TokenDay`` row of ``day`` (created at the day's
    first iteration), in the caller's transaction with the ``Iteration`` row it counts.

    An update first (the row nearly always exists); two first iterations of a day racing
    to create it meet the unique constraint, and the loser adds to the winner's row.
    """
    if not tokens:
        return
    if _tokens_day_increment(theme_id=theme_id, day=day, tokens=tokens):
        return
    try:
        with transaction.atomic():
            TokenDay.objects.create(theme_id=theme_id, day=day, tokens=tokens)
    except IntegrityError:
        _tokens_day_increment(theme_id=theme_id, day=day, tokens=tokens)


def _tokens_day_increment(*, theme_id: int, day: dt.date, tokens: int) -> int:
    """``UPDATE … SET tokens = tokens + n`` of the day's row, written out (the ORM's F()
    update cost ~15x the statement); how many rows it changed (0 or 1)."""
    return rows_update(TokenDay, where={"theme": theme_id, "day": day}, add={"tokens": tokens})


def reviews_schedule(*, work: Work, iteration: Iteration) -> list[int]:
    """Every N iterations a snapshot, every M a meta review (deduped while open)."""
    theme = work.theme
    queued = []
    for kind, every, priority in (
        (TaskKind.SNAPSHOT, theme.snapshot_every, PRIORITY_SNAPSHOT),
        (TaskKind.META_REVIEW, theme.meta_review_every, PRIORITY_META_REVIEW),
    ):
        if every > 0 and work.number % every == 0:
            task, created = task_create(
                theme=theme,
                kind=kind,
                priority=priority,
                brief=f"Every {every} iterations.",
                dedupe_key=kind,
                metadata={"iteration_count": work.number},
                created_by_iteration=iteration,
            )
            if created:
                queued.append(task.pk)
    return queued


def stagnation_apply(
    *, work: Work, iteration: Iteration, verdict: StagnationVerdict, now: dt.datetime
) -> int | None:
    """Mark the loop stalled and queue a shake-up, or clear it after a good shake-up."""
    if verdict.stalled:
        loop_stalled_mark(theme=work.theme, similarity=verdict.similarity, now=now)
        task, created = task_create(
            theme=work.theme,
            kind=TaskKind.SHAKE_UP,
            priority=PRIORITY_SHAKE_UP,
            brief=f"The {work.role}'s answers repeat themselves: propose directions unlike "
            "the recent ones.",
            dedupe_key=TaskKind.SHAKE_UP,
            metadata={
                "avoid": recent_directions(theme=work.theme, limit=conf().recent_directions),
                "similarity": verdict.similarity,
                "role": work.role,
            },
            created_by_iteration=iteration,
        )
        return task.pk if created else None
    if work.kind == TaskKind.SHAKE_UP:
        loop_stalled_clear(theme=work.theme)
    return None


def _lease_still_held(*, task_id: int, worker: str) -> bool:
    """Is the task still running under ``worker``'s lease? Written out: the ORM's
    ``exists()`` cost ~15x the statement."""
    return bool(rows_fetch(_lease_held_sql(), [task_id, Task.Status.RUNNING.value, worker]))


@statement
def _lease_held_sql() -> str:
    return (
        f"SELECT 1 FROM {table(Task)} WHERE {column(Task, 'id')} = %s "  # noqa: S608 - names from model metadata
        f"AND {column(Task, 'status')} = %s AND {column(Task, 'lease_owner')} = %s LIMIT 1"
    )


def iteration_persist(
    *,
    work: Work,
    call: CallOutcome,
    verdict: StagnationVerdict,
    started_at: dt.datetime,
    prefix: int,
    then: Callable[[Iteration], None] | None = None,
) -> Iteration:
    """Write everything the answer produced, the iteration and the task's completion in
    one transaction. Raises ``LeaseLost`` (and writes nothing) when the task moved on.
    ``then``: the caller's book-keeping of the recorded iteration, run last in the same
    transaction (it commits or rolls back with the answer)."""
    parsed = call.result.parsed if call.result is not None else None
    now = timezone.now()
    with transaction.atomic():
        # Checked first, so a late worker fails before it writes anything; checked again
        # by task_complete at the end, under the same transaction.
        if work.task is not None and not _lease_still_held(
            task_id=work.task.pk, worker=work.worker
        ):
            raise LeaseLost(f"task {work.task.pk} is no longer leased to {work.worker}")
        outcome = Iteration.Outcome.REPAIRED if call.repaired else Iteration.Outcome.OK
        iteration = iteration_new(
            work=work,
            call=call,
            outcome=outcome,
            started_at=started_at,
            prefix=prefix,
            similarity=verdict.similarity,
        )
        result = HANDLERS[work.role].persist(work=work, iteration=iteration, parsed=parsed)
        # Before stagnation_apply, which may lock the loop's one row: every iteration
        # takes its locks in the same order (its rows, then the loop's, which ``then``
        # locks last), so two concurrent persists on PostgreSQL cannot wait on each other
        # (one holding the loop's row, the other a deduplicated review task's insert).
        reviews = reviews_schedule(work=work, iteration=iteration)
        shake_up = stagnation_apply(work=work, iteration=iteration, verdict=verdict, now=now)
        if shake_up:
            result["shake_up_queued"] = shake_up
        result["reviews_queued"] = reviews
        iteration.result = result
        # The result needs the row's id (the persister links what it wrote to it), so it
        # is written after the insert: a plain UPDATE, not a model save.
        rows_update(Iteration, where={"id": iteration.pk}, assign={"result": result})
        if work.task is not None:
            task_complete(task=work.task, worker=work.worker, now=now)
        if then is not None:
            # Last: on PostgreSQL it updates the loop's one row, which every iteration
            # writes; locked last, it is held only until the COMMIT that follows.
            then(iteration)
    return iteration


def iteration_lease_lost(
    *, work: Work, call: CallOutcome, started_at: dt.datetime, prefix: int
) -> Iteration:
    """The tokens were spent but the task moved on: record them, change nothing else."""
    with transaction.atomic():
        return iteration_new(
            work=work,
            call=call,
            outcome=Iteration.Outcome.LEASE_LOST,
            started_at=started_at,
            prefix=prefix,
        )


def _task_settle(*, work: Work, error_class: str, detail: str, permanent: bool = False) -> None:
    """Fail the task (retried later, then blocked), unless its lease moved on already."""
    if work.task is None:
        return
    try:
        with transaction.atomic():
            task_fail(
                task=work.task,
                worker=work.worker,
                error_class=error_class,
                detail=detail,
                permanent=permanent,
            )
    except LeaseLost:
        logger.warning("task %s was reclaimed while its iteration failed", work.task.pk)


def iteration_error(
    *,
    work: Work,
    call: CallOutcome,
    started_at: dt.datetime,
    prefix: int,
    error_class: str,
    exc: BaseException,
) -> Iteration:
    """Record an iteration that an error ended (before or after the call), with the tokens
    it billed, and fail its task so it does not sit running until its lease lapses."""
    detail = f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        iteration = iteration_new(
            work=work,
            call=call,
            outcome=Iteration.Outcome.FAILED,
            started_at=started_at,
            prefix=prefix,
            error_class=error_class,
            error_detail=detail,
        )
        _task_settle(work=work, error_class=error_class, detail=detail)
    return iteration


def iteration_unpersisted(
    *, work: Work, call: CallOutcome, started_at: dt.datetime, prefix: int, exc: Exception
) -> Iteration:
    """Record the tokens of an answer whose results could not be written."""
    iteration = iteration_error(
        work=work,
        call=call,
        started_at=started_at,
        prefix=prefix,
        error_class="persist_error",
        exc=exc,
    )
    loop_tokens_add(tokens=iteration.total_tokens)
    return iteration


def iteration_fail(
    *, work: Work, call: CallOutcome, started_at: dt.datetime, prefix: int
) -> Iteration:
    """Record a failed call and give the task back: released when the server was at
    fault, failed (retried later, then blocked) when the answer was."""
    with transaction.atomic():
        iteration = iteration_new(
            work=work,
            call=call,
            outcome=Iteration.Outcome.FAILED,
            started_at=started_at,
            prefix=prefix,
        )
        if work.task is not None:
            if call.infrastructure_failure:
                task_release(
                    task=work.task,
                    worker=work.worker,
                    reason=f"{call.error_class}: {call.error}",
                )
            else:
                _task_settle(work=work, error_class=call.error_class, detail=str(call.error))
    return iteration


def iteration_without_ideas(*, work: Work, started_at: dt.datetime) -> Iteration:
    """A task about existing ideas whose ideas are gone: fail it for good, no model call."""
    with transaction.atomic():
        iteration = iteration_new(
            work=work,
            call=CallOutcome(),
            outcome=Iteration.Outcome.FAILED,
            started_at=started_at,
            prefix=0,
            error_class="no_ideas",
            error_detail="none of the task's ideas is visible any more",
        )
        if work.task is not None:
            task_fail(
                task=work.task,
                worker=work.worker,
                error_class="no_ideas",
                detail=iteration.error_detail,
                permanent=True,
            )
    return iteration


def snapshot_run(*, work: Work, started_at: dt.datetime) -> Iteration:
    """A snapshot task: no model call, the snapshot and the iteration in one transaction."""
    assert work.task is not None
    count = int(work.task.metadata.get("iteration_count") or work.number)
    with transaction.atomic():
        snapshot = snapshot_create(theme=work.theme, iteration_count=count)
        # The snapshot is written first, so the iteration is inserted with its result.
        iteration = iteration_new(
            work=work,
            call=CallOutcome(),
            outcome=Iteration.Outcome.OK,
            started_at=started_at,
            prefix=0,
            summary={"snapshot": snapshot.pk},
        )
        task_complete(task=work.task, worker=work.worker)
    return iteration
