"""The step executor: claim a step run with a lease, run its block with no transaction
open and under a time limit, record the result and advance the run in one transaction
that checks the lease is still ours.

Lease sizing: the lease is the step's time limit plus a grace for recording
(``WORKFLOWS_LEASE_GRACE_SECONDS``, default 30 s) rather than a heartbeat. The block
call is bounded by that same limit (SIGALRM in a worker's main thread; blocks also see
``ctx.seconds_left()`` for their own network timeouts), so a live worker never outlives
its lease, and a dead one's step is claimable soon after; a heartbeat thread would need
its own database connection per step and could keep renewing for a stuck block.

Straight through: after recording, the same worker goes on to the one next step that
became ready (no queue hop); when several became ready (parallel branches) it takes one
and queues the others on commit. A run past its deadline fails at the next record.
The step it goes on with is handed over as the recording transaction created it, so a
straight-through step costs a claim, the locked run read, its record and the advance
(measured by ``benchmarks/workflow_engine.py``), never a re-read of what was just written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

import workflows.blocks  # noqa: F401  (registers every block)
from bizagent.leases import lease_claim
from decisions.services import audit_log
from workflows.blocks.base import (
    JSON,
    Block,
    BlockBudgetExhausted,
    BlockConfigError,
    BlockError,
    BlockInputError,
    BlockResult,
    BlockTemplateError,
    BlockTimeout,
    Budget,
    block_get,
)
from workflows.errors import RunInputInvalid, WorkflowStateError
from workflows.internal_token import secrets_scrub
from workflows.models import OnError, Run, RunTrigger, Step, StepRun, Workflow
from workflows.services import transitions
from workflows.services.advance import (
    run_advance,
    run_graph,
    steps_scope,
    template_step_names,
)
from workflows.services.catchup import step_lease_expire
from workflows.services.context import EngineContext
from workflows.services.enqueue import step_runs_enqueue
from workflows.services.governance import StepMustAsk, step_effect_gate, step_wait
from workflows.services.runs import (
    MAX_RUN_DEPTH,
    run_create,
    run_end,
    run_mark_running,
    run_time_out,
    step_idempotency_key,
)
from workflows.services.spend import step_spend_record
from workflows.services.transitions import status_move
from workflows.templates import TemplateError, template_render

logger = logging.getLogger(__name__)

#: A straight-through chain hands over to the queue after this long (bounded tasks).
STRAIGHT_THROUGH_SECONDS = 60.0
#: A retry backoff up to this long is slept in the worker; a longer one waits for the
#: catch-up sweep (every minute) to queue the step when it is due.
INLINE_BACKOFF_SECONDS = 10.0
#: How many times a step may be re-run because its worker died, beyond its attempts.
LEASE_LAPSES_ALLOWED = 2
#: The block whose output the engine merges into ``run.vars``.
SET_VARIABLES = "set-variables"


class StepLeaseLapsed(BlockError):
    """The worker running the step died (its lease lapsed) and it may not run again."""

    error_class = "lease_expired"


class StepInternalError(BlockError):
    """The block raised something that is not a ``BlockError``: a bug, recorded as one."""

    error_class = "internal"


def _error_classes() -> dict[str, type[BlockError]]:
    found: dict[str, type[BlockError]] = {}
    pending: list[type[BlockError]] = [BlockError]
    while pending:
        cls = pending.pop()
        found.setdefault(cls.error_class, cls)
        pending.extend(cls.__subclasses__())
    return found


def block_error_for(error_class: str, message: str) -> BlockError:
    """A ``BlockError`` of the class named (a child's recorded failure, raised again)."""
    return _error_classes().get(error_class, BlockError)(message)


def lease_grace() -> timedelta:
    return timedelta(seconds=getattr(settings, "WORKFLOWS_LEASE_GRACE_SECONDS", 30))


def worker_owner() -> str:
    """A lease owner unique to this execution (host, process, thread, nonce)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{uuid.uuid4().hex[:8]}"


# -- retry policy ---------------------------------------------------------------------


@dataclass(frozen=True)
class StepRetry:
    attempts: int = 1
    backoff: str = "constant"
    delay_seconds: float = 0.0
    #: Error classes retried; None: the retryable ones.
    on: tuple[str, ...] | None = None

    @classmethod
    def of(cls, step: Step) -> StepRetry:
        data = step.retry or {}
        on = data.get("on")
        return cls(
            attempts=max(1, int(data.get("attempts") or 1)),
            backoff=str(data.get("backoff") or "constant"),
            delay_seconds=max(0.0, float(data.get("delay_seconds") or 0.0)),
            on=tuple(on) if isinstance(on, list) else None,
        )

    def delay(self, attempt: int) -> float:
        """Seconds before the try after ``attempt`` (1-based) failed."""
        if self.backoff == "exponential":
            return self.delay_seconds * (2 ** min(attempt - 1, 16))
        return self.delay_seconds

    def allows(self, *, error: BlockError, attempt: int, block: Block | None, step: Step) -> bool:
        if attempt >= self.attempts:
            return False
        if block is not None and block.has_side_effects(step.config or {}) and not step.idempotent:
            return False
        if self.on is None:
            return error.retryable
        return error.error_class in self.on


# -- time limit -------------------------------------------------------------------------


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise ``BlockTimeout`` in this thread after ``seconds`` (main thread only: django-q2
    runs a task in its worker process's main thread; elsewhere, ``seconds_left`` only).
    Nests: an inner limit never outlasts the outer one, which is re-armed afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    outer_handler = signal.getsignal(signal.SIGALRM)
    started = time.monotonic()

    def on_alarm(signum: int, frame: Any) -> None:
        raise BlockTimeout(f"{what} took longer than its {seconds:.0f} s limit")

    limit = max(0.001, seconds if not outer_left else min(seconds, outer_left))
    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, outer_handler)
        if outer_left:
            signal.setitimer(
                signal.ITIMER_REAL, max(0.001, outer_left - (time.monotonic() - started))
            )


# -- one step ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What executing one step run did: recorded or not, and the step to go on with.

    ``next_step_run`` is that step run as the recording transaction created it (its run
    as read under the lock, its step from the cached graph): going straight on with it
    skips reading back what this worker has just written.
    """

    recorded: bool
    next_id: int | None = None
    next_step_run: StepRun | None = None


def _claim(step_run: StepRun, *, owner: str, seconds: float) -> bool:
    """PENDING → RUNNING under a lease sized to the time limit (+ grace); the run goes
    QUEUED → RUNNING with its first claim.

    The compare-and-set also names the attempt this worker read, so when it wins, the
    row is exactly what it read plus what it wrote, and ``step_run`` is brought up to
    date in memory instead of being read back. (A row retried by another worker since
    it was read is not taken: that worker goes on with its retry.)
    """
    transitions.transition_check(StepRun, StepRun.Status.PENDING, StepRun.Status.RUNNING)
    now = timezone.now()

    def claim() -> int:
        return lease_claim(
            StepRun.objects.filter(
                pk=step_run.pk, status=StepRun.Status.PENDING, attempt=step_run.attempt
            ),
            owner=owner,
            now=now,
            duration=timedelta(seconds=seconds) + lease_grace(),
            take_lapsed=False,
            status=StepRun.Status.RUNNING,
            attempt=step_run.attempt + 1,
            started_at=now,
            run_after=None,
        )

    if step_run.run.status == Run.Status.QUEUED:
        with transaction.atomic():
            claimed = claim()
            if claimed:
                run_mark_running(run=step_run.run)
    else:
        # The claim alone is one compare-and-set statement, atomic by itself: opening a
        # transaction around it would only add a BEGIN and a COMMIT to every step.
        claimed = claim()
    if claimed:
        step_run.status, step_run.attempt = StepRun.Status.RUNNING, step_run.attempt + 1
        step_run.started_at, step_run.lease_owner, step_run.run_after = now, owner, None
    return bool(claimed)


def _render(step: Step, block: Block, scope: dict[str, Any]) -> dict[str, Any]:
    config = step.config or {}
    try:
        return {
            key: template_render(value, scope, where=key, neutralise=key in block.prompt_keys)
            for key, value in config.items()
        }
    except TemplateError as exc:
        raise BlockTemplateError(f"{exc.path}: {exc.message}" if exc.path else exc.message) from exc


def _budget_left(step_run: StepRun) -> dict[str, Any]:
    """The budget of a graph step that was handed none: what its run's steps left.

    A subflow's run is handed a budget on its first step (reduced by one level of
    depth); the steps after it take the smallest remainder recorded by the run's other
    graph steps (a step's record is what it left), field by field, ``None`` meaning no
    limit. So spending flows down a chain, and a later step never gets more than an
    earlier one was handed (parallel branches each see what was left when they start).
    """
    return _run_budget_left(step_run.run_id, exclude=step_run.pk)


def _run_budget_left(run_id: int, *, exclude: int | None = None) -> dict[str, Any]:
    """The smallest remainder, field by field, that run ``run_id``'s graph steps
    recorded; ``{}`` when none recorded a budget."""
    # Only the rows with a limit in them: a remainder with every field null limits
    # nothing, so leaving it out changes no minimum, and in the usual run (no agent, no
    # subflow) the database answers with no row instead of every earlier step's JSON.
    limited = Q()
    for name in ("tool_calls", "tokens", "depth"):
        # The key is there and is not JSON null (Django's documented null lookup).
        limited |= Q(**{f"budget__{name}__isnull": False}) & ~Q(**{f"budget__{name}": None})
    rows = StepRun.objects.filter(limited, run_id=run_id, parent__isnull=True)
    if exclude is not None:
        rows = rows.exclude(pk=exclude)
    budgets = [Budget.from_json(json) for json in rows.values_list("budget", flat=True)]
    if not budgets:
        return {}

    def least(values: list[int | None]) -> int | None:
        limited = [value for value in values if value is not None]
        return min(limited) if limited else None

    return Budget(
        iterations=None,
        tool_calls=least([b.tool_calls for b in budgets]),
        tokens=least([b.tokens for b in budgets]),
        depth=least([b.depth for b in budgets]),
    ).to_json()


def _call_block(
    step_run: StepRun, *, owner: str, seconds: float, runner: Runner
) -> tuple[BlockResult | None, BlockError | None, EngineContext]:
    """Build the context and run the block; no transaction is open here."""
    run = step_run.run
    step = step_run.step
    graph = run_graph(workflow=run.workflow)
    budget_json = step_run.budget or _budget_left(step_run)
    ctx = EngineContext(
        run=run,
        step_run=step_run,
        steps_by_name=graph.by_name,
        runner=runner,
        owner=owner,
        deadline=time.monotonic() + seconds,
        budget=Budget.from_json(budget_json),
    )
    block = block_get(step.block)
    try:
        if block is None:
            raise BlockConfigError(f"no block {step.block!r} is installed")
        if step_run.error_class == StepLeaseLapsed.error_class and (
            (block.has_side_effects(step.config or {}) and not step.idempotent)
            or step_run.attempt > StepRetry.of(step).attempts + LEASE_LAPSES_ALLOWED
        ):
            raise StepLeaseLapsed(
                f"the worker running {step.name} died mid-step; not run again "
                + (
                    "(it has side effects and is not idempotent)"
                    if block.has_side_effects(step.config or {}) and not step.idempotent
                    else "(its worker died too often)"
                )
            )
        scope = {
            "input": step_run.input if step_run.parent_id is not None else run.input,
            # Only the steps the config's templates name are read (not every output
            # before this one): a missing one fails exactly as a step that has not run.
            "steps": steps_scope(run=run, names=template_step_names(step.config or {})),
            "vars": run.vars,
            "ctx": ctx.ctx_values(),
        }
        config = _render(step, block, scope)
        step_run.input = config if step_run.parent_id is None else step_run.input
        # A bulk send or deletion past the policy's lines waits for a person first.
        step_effect_gate(
            step_run=step_run,
            block=block,
            config=config,
            input=scope["input"],
            shown=secrets_scrub(config, ctx.secrets()),
        )
        with time_limit(seconds, f"step {step.name}"):
            result = block.run(config=config, input=scope["input"], ctx=ctx)
        if not isinstance(result, BlockResult):
            raise StepInternalError(f"block {step.block} returned {type(result).__name__}")
        return result, None, ctx
    except BlockError as exc:
        return None, exc, ctx
    except StepMustAsk:
        raise
    except Exception as exc:
        logger.exception("workflows: block %s of step run %s raised", step.block, step_run.pk)
        return None, StepInternalError(f"{type(exc).__name__}: {exc}"), ctx


def _record(
    step_run: StepRun,
    *,
    owner: str,
    result: BlockResult | None,
    error: BlockError | None,
    ctx: EngineContext,
    started: float,
) -> tuple[bool, list[StepRun], StepRun.Status | str]:
    """Record the attempt and advance the run, in one transaction under the lease.

    Returns (recorded, the step runs ready now, the status recorded): a step to retry is
    itself the one ready. A worker whose lease is gone (cancelled, taken over) records
    nothing.
    """
    step = step_run.step
    block = block_get(step.block)
    now = timezone.now()
    secrets = ctx.secrets()
    fields: dict[str, Any] = {
        "lease_owner": "",
        "lease_expires_at": None,
        "duration_ms": int((time.monotonic() - started) * 1000),
        "budget": ctx.budget.to_json(),
        "input": secrets_scrub(step_run.input, secrets),
    }
    ready: list[StepRun] = []
    retry = False
    # What the attempt spent: a failed block (an agent out of budget) still reports the
    # tokens it was billed on its error, so budgets see them.
    spent = result or BlockResult(
        output=None,
        prompt_tokens=int(getattr(error, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(error, "completion_tokens", 0) or 0),
        cost=Decimal(str(getattr(error, "cost", 0) or 0)),
    )
    # Sums only when there is something to add (most steps spend nothing, and the three
    # expressions cost more to build than the rest of the UPDATE).
    if spent.prompt_tokens:
        fields["prompt_tokens"] = F("prompt_tokens") + spent.prompt_tokens
    if spent.completion_tokens:
        fields["completion_tokens"] = F("completion_tokens") + spent.completion_tokens
    if spent.cost:
        fields["cost"] = F("cost") + spent.cost
    if result is not None:
        status = StepRun.Status.SUCCEEDED
        fields.update(
            output=secrets_scrub(result.output, secrets),
            port=result.port,
            error_class="",
            error_message="",
            finished_at=now,
        )
    else:
        assert error is not None
        message = secrets_scrub(str(error), secrets)[:4000]
        fields.update(error_class=error.error_class, error_message=message)
        policy = StepRetry.of(step)
        on_error = step.on_error
        if step_run.parent_id is not None and on_error == OnError.ERROR_BRANCH:
            on_error = OnError.FAIL  # a tool call has no error port: its caller gets the error
        if policy.allows(error=error, attempt=step_run.attempt, block=block, step=step):
            retry = True
            status = StepRun.Status.PENDING
            fields["run_after"] = now + timedelta(seconds=policy.delay(step_run.attempt))
        elif on_error == OnError.FAIL:
            status = StepRun.Status.FAILED
            fields.update(finished_at=now, port="")
        else:
            status = StepRun.Status.HANDLED_ERROR
            fields.update(
                finished_at=now,
                port="error" if on_error == OnError.ERROR_BRANCH else "out",
                output=step.default_output if on_error == OnError.DEFAULT_OUTPUT else None,
            )
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=step_run.run_id)
        # The run pins its workflow version: the one read with the step run is the same.
        run.workflow = step_run.run.workflow
        if not status_move(
            StepRun,
            pk=step_run.pk,
            sources=[StepRun.Status.RUNNING],
            target=status,
            where=Q(lease_owner=owner),
            **fields,
        ):
            return False, [], status
        step_spend_record(run=run, step_run=step_run, result=spent)
        if error is not None:
            audit_log(
                action="workflows.step_failed",
                subject=run,
                data={
                    "step": step.name,
                    "step_run": step_run.pk,
                    "attempt": step_run.attempt,
                    "error_class": error.error_class,
                    "error": fields["error_message"][:500],
                    "retry": retry,
                    "outcome": status,
                },
            )
        if retry:
            return True, [step_run], status
        if step_run.parent_id is not None or run.status not in Run.OPEN_STATUSES:
            return True, [], status  # a tool call, or a run that stopped meanwhile
        if run.deadline_at is not None and run.deadline_at <= now:
            run_time_out(run_id=run.pk)
            return True, [], status
        if status == StepRun.Status.FAILED:
            run_end(
                run=run,
                status=Run.Status.FAILED,
                error=f"step {step.name} failed ({error.error_class if error else ''}): "
                f"{fields['error_message']}",
            )
            return True, [], status
        if result is not None and step.block == SET_VARIABLES and isinstance(result.output, dict):
            run.vars = {**(run.vars or {}), **fields["output"]}
            Run.objects.filter(pk=run.pk).update(vars=run.vars)
        ready = run_advance(run=run, graph=run_graph(workflow=run.workflow))
    return True, ready, status


class Runner:
    """Executes step runs: from a queued task, straight through, and inline for an
    agent's tool calls and subflows (``ChildRunner`` of the context)."""

    def __init__(self, owner: str) -> None:
        self.owner = owner

    def execute_one(
        self,
        step_run_id: int,
        *,
        enqueue: bool,
        cap: float | None = None,
        step_run: StepRun | None = None,
    ) -> Outcome:
        """Execute one step run if it is ready and free; returns what happened and the
        next step run this worker should go on with (straight through).

        ``step_run`` is that row as the previous step's recording just created it
        (``Outcome.next_step_run``); without it the row is read here. Either way the
        claim's compare-and-set decides whether it is still ours to run.
        """
        if step_run is None or step_run.pk != step_run_id:
            step_run = (
                StepRun.objects.select_related("run__workflow", "run__parent_step_run", "step")
                .filter(pk=step_run_id)
                .first()
            )
        if step_run is None or step_run.status in StepRun.DONE_STATUSES:
            return Outcome(False)  # a redelivered task: already recorded, never run twice
        run = step_run.run
        if run.status not in Run.OPEN_STATUSES:
            return Outcome(False)
        now = timezone.now()
        if run.deadline_at is not None and run.deadline_at <= now:
            run_time_out(run_id=run.pk)
            return Outcome(False)
        if step_run.status == StepRun.Status.RUNNING:
            if step_run.lease_expires_at and step_run.lease_expires_at > now:
                return Outcome(False)  # someone holds it
            step_lease_expire(step_run_id=step_run.pk)
            step_run.refresh_from_db()
        if step_run.run_after is not None and step_run.run_after > now:
            wait = (step_run.run_after - now).total_seconds()
            if wait > INLINE_BACKOFF_SECONDS or (cap is not None and wait >= cap):
                return Outcome(False)  # the catch-up queues it when due
            time.sleep(wait)
        seconds = float(step_run.step.timeout_seconds)
        if run.deadline_at is not None:
            seconds = min(seconds, (run.deadline_at - timezone.now()).total_seconds())
        if cap is not None:
            seconds = min(seconds, cap)
        if seconds <= 0 or not _claim(step_run, owner=self.owner, seconds=max(seconds, 0.001)):
            return Outcome(False)
        started = time.monotonic()
        try:
            result, error, ctx = _call_block(
                step_run, owner=self.owner, seconds=seconds, runner=self
            )
        except StepMustAsk as ask:
            return Outcome(step_wait(step_run=step_run, owner=self.owner, ask=ask.ask))
        recorded, ready, _ = _record(
            step_run, owner=self.owner, result=result, error=error, ctx=ctx, started=started
        )
        if not ready:
            return Outcome(recorded)
        if enqueue:
            step_runs_enqueue([other.pk for other in ready[1:]])
        # A retry goes on from the row as stored (its attempt and backoff were just
        # written by an UPDATE); a step run just created is handed over as it is.
        handed = ready[0] if ready[0] is not step_run else None
        return Outcome(recorded, ready[0].pk, handed)

    # -- ChildRunner ----------------------------------------------------------------

    def _wait_done(self, model: type[StepRun] | type[Run], pk: int, ctx: EngineContext) -> None:
        """Someone else holds the row: wait (within the caller's time) until it is done."""
        done = (
            StepRun.DONE_STATUSES
            if model is StepRun
            else tuple(s for s in Run.Status.values if s not in Run.OPEN_STATUSES)
        )
        while model.objects.filter(pk=pk).exclude(status__in=done).exists():
            if ctx.seconds_left() <= 0:
                raise BlockTimeout(f"{ctx.step_name}: ran out of time waiting for a child")
            time.sleep(0.2)

    def tool_call(
        self, ctx: EngineContext, *, step: Step, args: dict[str, Any], key: str, budget: Budget
    ) -> JSON:
        parent = ctx.step_run
        child = StepRun.objects.filter(parent=parent, call_key=key).first()
        if child is None:
            try:
                with transaction.atomic():
                    child = StepRun.objects.create(
                        run_id=parent.run_id,
                        step=step,
                        parent=parent,
                        call_key=key,
                        input=args,
                        budget=budget.to_json(),
                        idempotency_key=step_idempotency_key(
                            run_id=parent.run_id, step_id=step.pk, parent_id=parent.pk, call_key=key
                        ),
                    )
            except IntegrityError:
                child = StepRun.objects.get(parent=parent, call_key=key)
        while child.status not in StepRun.DONE_STATUSES:
            outcome = self.execute_one(child.pk, enqueue=False, cap=ctx.seconds_left())
            child.refresh_from_db()
            if not outcome.recorded and child.status not in StepRun.DONE_STATUSES:
                if child.status == StepRun.Status.PENDING and child.run_after is None:
                    raise BlockTimeout(f"{ctx.step_name}: no time left to run {step.name}")
                if child.status == StepRun.Status.PENDING:
                    if ctx.seconds_left() <= 0:
                        raise BlockTimeout(f"{ctx.step_name}: no time left to retry {step.name}")
                    time.sleep(min(0.2, ctx.seconds_left()))
                else:
                    self._wait_done(StepRun, child.pk, ctx)
                    child.refresh_from_db()
        ctx.budget_absorb(Budget.from_json(child.budget))
        if child.status in (StepRun.Status.SUCCEEDED, StepRun.Status.HANDLED_ERROR):
            return child.output
        raise block_error_for(
            child.error_class, f"tool {step.name} failed: {child.error_message or child.status}"
        )

    def subflow(
        self, ctx: EngineContext, *, workflow: str | int, input: dict[str, Any], budget: Budget
    ) -> JSON:
        parent = ctx.step_run
        depth = ctx.run.depth + 1
        if depth > MAX_RUN_DEPTH:
            raise BlockBudgetExhausted(
                f"subflow depth exhausted: a run may nest at most {MAX_RUN_DEPTH} deep"
            )
        target = _published(workflow)
        if target is None:
            raise BlockConfigError(f"no published workflow {workflow!r}")
        child = (
            Run.objects.filter(parent_step_run=parent, workflow=target)
            .exclude(status__in=[Run.Status.FAILED, Run.Status.CANCELLED])
            .order_by("-id")
            .first()
        )
        if child is None:
            try:
                with transaction.atomic():
                    child, first = run_create(
                        workflow=target,
                        input=input,
                        triggered_by=ctx.run.triggered_by,
                        trigger=RunTrigger.SUBFLOW,
                        subject=f"workflows.steprun:{parent.pk}",
                        parent_step_run=parent,
                        depth=depth,
                    )
                    StepRun.objects.filter(pk=first.pk).update(budget=budget.to_json())
            except RunInputInvalid as exc:
                raise BlockInputError(
                    f"subflow {target.key}: " + "; ".join(p["message"] for p in exc.problems)
                ) from exc
            except WorkflowStateError as exc:
                raise BlockConfigError(f"subflow {target.key}: {exc}") from exc
        self._drive(child, ctx)
        child.refresh_from_db()
        ctx.budget_absorb(Budget.from_json(_run_budget_left(child.pk)))
        if child.status in (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_SUCCEEDED):
            return child.output
        failed = (
            StepRun.objects.filter(run=child, status=StepRun.Status.FAILED).order_by("-id").first()
        )
        raise block_error_for(
            failed.error_class if failed else "block_error",
            f"subflow {target.key} {child.status}: {child.error}",
        )

    def _drive(self, child: Run, ctx: EngineContext) -> None:
        """Run a child run's steps inline in this worker, each recorded, until it ends."""
        while Run.objects.filter(pk=child.pk, status__in=Run.OPEN_STATUSES).exists():
            if ctx.seconds_left() <= 0:
                raise BlockTimeout(f"{ctx.step_name}: the subflow ran out of time")
            pending = (
                StepRun.objects.filter(
                    run=child, parent__isnull=True, status=StepRun.Status.PENDING
                )
                .order_by("run_after", "id")
                .values_list("pk", flat=True)
                .first()
            )
            if pending is None:
                time.sleep(0.2)  # a step held by another worker (a catch-up raced us)
                continue
            next_id: int | None = pending
            handed: StepRun | None = None
            while next_id is not None:
                outcome = self.execute_one(
                    next_id, enqueue=False, cap=ctx.seconds_left(), step_run=handed
                )
                next_id, handed = outcome.next_id, outcome.next_step_run
                if not outcome.recorded and next_id is None:
                    time.sleep(0.05)


def _published(ref: str | int) -> Workflow | None:
    rows = Workflow.objects.filter(status=Workflow.Status.PUBLISHED)
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        return rows.filter(pk=int(ref)).first()
    return rows.filter(key=ref).first()


def step_run_execute(*, step_run_id: int, owner: str | None = None) -> int:
    """Execute a queued step run, then straight through while exactly one step is next.

    Idempotent: a recorded step is never executed again (a redelivered task is a no-op)
    and a step held by a live lease is left to its worker. Returns how many step runs
    this call recorded. Bounded: after ``STRAIGHT_THROUGH_SECONDS`` the next step is
    queued instead.
    """
    runner = Runner(owner or worker_owner())
    started = time.monotonic()
    recorded = 0
    next_id: int | None = step_run_id
    handed: StepRun | None = None
    while next_id is not None:
        outcome = runner.execute_one(next_id, enqueue=True, step_run=handed)
        recorded += outcome.recorded
        next_id, handed = outcome.next_id, outcome.next_step_run
        if next_id is not None and time.monotonic() - started > STRAIGHT_THROUGH_SECONDS:
            step_runs_enqueue([next_id])
            break
    return recorded


def run_execute_here(*, run_id: int, timeout: float, owner: str | None = None) -> Run:
    """Drive run ``run_id`` to its end from this process (``workflow run --wait``).

    Executes the run's ready graph steps here one after another, sleeping out retry
    backoffs, so a person at a terminal gets the result without a worker running. A
    step held by a live worker's lease is left to it (the claim is the same compare-and-
    set), so running this beside a qcluster is safe: each step still runs once. Stops
    at the run's end, when it waits for a person (a step asked first: nothing here can
    move it on), or after ``timeout`` seconds, returning the run as it then is.
    """
    runner = Runner(owner or worker_owner())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = Run.objects.get(pk=run_id)
        if run.status not in Run.OPEN_STATUSES:
            return run
        now = timezone.now()
        pending = StepRun.objects.filter(
            run_id=run_id, parent__isnull=True, status=StepRun.Status.PENDING
        )
        ready = pending.filter(Q(run_after__isnull=True) | Q(run_after__lte=now)).order_by("id")
        step_run = ready.first()
        if step_run is None:
            if run.status == Run.Status.WAITING and not pending.exists():
                return run  # only a person's decision moves it on
            # Nothing ready here: a backoff to wait out, or steps other workers hold.
            time.sleep(0.2)
            continue
        next_id: int | None = step_run.pk
        handed: StepRun | None = None
        while next_id is not None and time.monotonic() < deadline:
            outcome = runner.execute_one(next_id, enqueue=False, step_run=handed)
            next_id, handed = outcome.next_id, outcome.next_step_run
    return Run.objects.get(pk=run_id)
