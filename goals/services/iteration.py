"""``iteration_run``: one bounded step of the loop, as a short sequence of steps.

gates (``gates``) → pick the work (``work``: claim, role, mode, focus) → run its kind
(``work.KIND_HANDLERS``: without the model, or build the context, call the role with
one repair call on a violation) → record it (``record``: persist in one transaction,
stagnation, snapshot and meta-review scheduling) → book-keeping (``loop``).

The model is called with no transaction open and no lock held. Results are written in
one transaction that also completes the task under its lease: a worker that lost its
lease while the model was thinking rolls back and writes nothing, so a task delivered
twice never doubles its ideas. Every path that claimed work ends in a recorded
iteration, errors included, so no task waits for its lease to lapse.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field

from django.utils import timezone

from bizagent.llm.client import llm_client
from bizagent.llm.types import ChatClient
from goals.conf import conf
from goals.models import Iteration
from goals.roles import HANDLERS, request_build
from goals.selectors import failures_in_a_row, loop_state_get, role_prompt_bytes
from goals.selectors_iteration import iteration_start_read
from goals.services.calls import ANSWER_ERRORS, CallOutcome, role_call
from goals.services.gates import NO_THEME, Gate, budget_gate, loop_gate
from goals.services.loop import (
    loop_backoff_enter,
    loop_current_set,
    loop_iteration_count,
    loop_pause,
)
from goals.services.queue import LeaseLost, task_leases_expire
from goals.services.record import (
    StagnationVerdict,
    iteration_error,
    iteration_fail,
    iteration_lease_lost,
    iteration_persist,
    iteration_unpersisted,
    iteration_without_ideas,
    snapshot_run,
    stagnation_assess,
)
from goals.services.work import (
    IDEA_KINDS,
    KIND_HANDLERS,
    Work,
    work_pick,
    work_prepare,
)
from goals.work import context_epoch
from ideas.context import ContextBudgetError, context_build

logger = logging.getLogger(__name__)

__all__ = [
    "IDEA_KINDS",
    "Gate",
    "IterationReport",
    "StagnationVerdict",
    "Work",
    "iteration_persist",
    "iteration_run",
    "user_message_build",
    "work_pick",
]


@dataclass
class IterationReport:
    """What one call of ``iteration_run`` did; ``status`` is ``ran`` when it recorded an
    iteration, otherwise the reason it did nothing."""

    status: str
    detail: str = ""
    iteration: Iteration | None = None
    wait_seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ran(self) -> bool:
        return self.status == "ran"


@dataclass
class Step:
    """What running one kind produced: the recorded iteration and the call behind it."""

    iteration: Iteration
    call: CallOutcome
    detail: str = ""
    #: ``loop_after`` already ran, inside the transaction that recorded the iteration.
    counted: bool = False


def user_message_build(*, work: Work, ideas_text: str) -> str:
    """The user message of ``work``'s role (its kind prepared first, once)."""
    if work.meta_stats is None:
        work_prepare(work)
    return HANDLERS[work.role].message_build(work=work, ideas_text=ideas_text)


def _model_step(*, work: Work, client: ChatClient, previous_ids: bytes | None, lap: Lap) -> Step:
    """Build the prompt, call the role, record the answer (or the failure)."""
    theme = work.theme
    started_at = timezone.now()
    call = CallOutcome()
    try:
        work_prepare(work)
        context = context_build(
            theme=theme,
            role=work.role,
            focus_ideas=work.focus_ideas,
            token_budget=conf().context_token_budget,
            epoch=context_epoch(work.number),
            focus_per_epoch=HANDLERS[work.role].focus_per_epoch,
        )
        ideas_text = context.ideas_text
        if context.changes_text:
            ideas_text = f"{ideas_text}\n{context.changes_text}"
        request = request_build(
            role=work.role,
            brand_text=context.developer_text,
            user=HANDLERS[work.role].message_build(work=work, ideas_text=ideas_text),
            max_tokens=theme.token_cap(work.role),
            day=timezone.localdate(started_at),
        )
    except ContextBudgetError as exc:
        # The theme does not fit the context budget: every call would fail the same way,
        # so the loop waits for a person (raise the budget or shorten the theme files).
        iteration = iteration_error(
            work=work,
            call=call,
            started_at=started_at,
            prefix=0,
            error_class="context_budget",
            exc=exc,
        )
        loop_pause(reason=f"context budget: {exc}")
        return Step(iteration, call, str(exc))
    lap("context")
    call = role_call(client=client, request=request)
    lap("call")
    prefix = call.prefix_shared_with(previous_ids)
    if not call.ok:
        iteration = iteration_fail(work=work, call=call, started_at=started_at, prefix=prefix)
        return Step(iteration, call, str(call.error))
    verdict = stagnation_assess(work=work, parsed=call.result.parsed)  # type: ignore[union-attr]
    try:
        # The loop's counters are moved in the answer's transaction (one COMMIT fewer per
        # iteration); they roll back with it when the lease was lost or a write failed,
        # and the paths below count the iteration they record instead.
        iteration = iteration_persist(
            work=work,
            call=call,
            verdict=verdict,
            started_at=started_at,
            prefix=prefix,
            then=lambda recorded: loop_after(work=work, iteration=recorded, call=call),
        )
    except LeaseLost as exc:
        iteration = iteration_lease_lost(work=work, call=call, started_at=started_at, prefix=prefix)
        return Step(iteration, call, str(exc))
    except Exception as exc:
        # A bug or a database error while persisting: the answer's tokens were billed
        # all the same, so they are recorded (the budget counts them) and the task
        # failed (retried later) before the error goes on to the caller.
        try:
            iteration_unpersisted(
                work=work, call=call, started_at=started_at, prefix=prefix, exc=exc
            )
        except Exception:  # the database itself is gone: the original error matters
            logger.exception("could not record the tokens of an unpersisted answer")
        raise
    return Step(iteration, call, counted=True)


def _system_step(*, work: Work) -> Step:
    return Step(snapshot_run(work=work, started_at=timezone.now()), CallOutcome())


def _bad_answers_backoff(*, work: Work, call: CallOutcome, now: dt.datetime) -> None:
    """Back off when the model's last answers were all unusable.

    Each bad answer was billed: a model that only answers malformed or truncated output
    would otherwise burn tokens at full speed until the daily budget stops it. The same
    backoff as for an unreachable server, so it doubles while the streak goes on and a
    good answer clears it.
    """
    streak = conf().bad_answers_backoff_after
    if streak <= 0 or not failures_in_a_row(
        theme=work.theme, limit=streak, error_classes=ANSWER_ERRORS
    ):
        return
    loop_backoff_enter(
        error_class=call.error_class,
        detail=f"the last {streak} answers were unusable; last: {call.error}",
        now=now,
    )


def loop_after(*, work: Work, iteration: Iteration, call: CallOutcome) -> None:
    """Book-keeping after an iteration: backoff, counters, prompt ids (the duty cycle's
    rest is the loop slot's: ``goals.services.slots``). Inside the caller's transaction
    when there is one (a persisted answer's), its own otherwise."""
    now = timezone.now()
    if call.error is not None and call.infrastructure_failure:
        loop_backoff_enter(error_class=call.error_class, detail=str(call.error), now=now)
    elif call.error is not None and call.answer_failure:
        _bad_answers_backoff(work=work, call=call, now=now)
    failed = iteration.outcome == Iteration.Outcome.FAILED
    loop_iteration_count(
        role=work.role,
        tokens=iteration.prompt_tokens + iteration.completion_tokens,
        failed=failed,
        # A server outage is reported by the backoff; the last error is the task's own.
        error_class="" if call.infrastructure_failure else iteration.error_class,
        error_detail=iteration.error_detail,
        prompt_bytes=call.prompt_bytes if work.role in HANDLERS and call.prompt_ids else None,
        # The server answered: a backoff ends, under the counters' lock.
        answered=bool(call.model_calls) and call.error is None,
        now=now,
    )


class Lap:
    """Milliseconds per phase of one iteration, for the benchmark and the report."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.mark = time.perf_counter()

    def __call__(self, name: str) -> None:
        current = time.perf_counter()
        self.timings[name] = self.timings.get(name, 0.0) + (current - self.mark) * 1000
        self.mark = current


def _gate_report(gate: Gate) -> IterationReport:
    return IterationReport(gate.status, gate.detail, wait_seconds=gate.wait_seconds)


def iteration_run(
    *,
    worker: str,
    scheduled: bool,
    client: ChatClient | None = None,
    now: dt.datetime | None = None,
) -> IterationReport:
    """Run one bounded iteration, or say why not (paused, stopped, backing off, resting,
    out of budget, no theme)."""
    lap = Lap()
    now = now or timezone.now()
    state = loop_state_get()
    gate = loop_gate(state=state, scheduled=scheduled, now=now)
    start = iteration_start_read(now=now) if gate is None else None
    if gate is None and start is None:
        gate = NO_THEME
    if gate is None and start is not None:
        gate = budget_gate(theme=start.theme, now=now, used=start.tokens_used_today)
    if gate is not None or start is None:
        return _gate_report(gate or NO_THEME)
    if start.leases_lapsed:  # read with the theme, at the same ``now``: nearly never
        task_leases_expire(now=now)
    work = work_pick(
        theme=start.theme,
        worker=worker,
        state=state,
        now=now,
        last_number=start.last_number,
        shake_up_open=start.shake_up_open,
    )
    handler = KIND_HANDLERS[work.kind]
    if not handler.model:
        step = _system_step(work=work)
    elif work.kind in IDEA_KINDS and not work.focus_ideas:
        step = Step(iteration_without_ideas(work=work, started_at=timezone.now()), CallOutcome())
    else:
        loop_current_set(task=work.task, role=work.role, worker=worker)
        lap("db")
        step = _model_step(
            work=work,
            client=client or llm_client(),
            previous_ids=role_prompt_bytes(role=work.role),
            lap=lap,
        )
    if not step.counted:
        loop_after(work=work, iteration=step.iteration, call=step.call)
    lap("db")
    for name in ("http", "render", "client"):
        if name in step.call.timings:
            lap.timings[name] = step.call.timings[name]
    return IterationReport("ran", step.detail, iteration=step.iteration, timings=lap.timings)
