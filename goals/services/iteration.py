"""``iteration_run``: one bounded step of the loop, built from small steps.

claim → build the context → call the role (one repair call on a violation) → persist in
one transaction → record the iteration → stagnation, snapshot and meta-review
scheduling. Each step takes and returns plain values and is tested on its own (the
shape of healthchecks' ``sendalerts``); ``iteration_run`` only strings them together.

The model is called with no transaction open and no lock held. Results are written in
one transaction that also completes the task under its lease: a worker that lost its
lease while the model was thinking rolls back and writes nothing, so a task delivered
twice never doubles its ideas.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bizagent.llm.client import LLMClient, llm_client
from goals.conf import conf
from goals.models import Iteration, LoopState, Mode, Role, Task, TaskKind
from goals.prompts import (
    TaskView,
    critic_message,
    editor_message,
    ideator_message,
    planner_message,
)
from goals.roles import CRITIC, EDITOR, IDEATOR, PLANNER, ROLE_FOR_KIND, request_build
from goals.selectors import (
    failures_in_a_row,
    ideator_text,
    iteration_number_last,
    queue_counts,
    recent_directions,
    recent_ideator_texts,
    recent_work,
    tokens_granted_today,
    tokens_used_today,
)
from goals.services.calls import ANSWER_ERRORS, CallOutcome, role_call
from goals.services.governance import (
    meta_review_stats,
    strategy_propose,
    token_budget_decision_request,
)
from goals.services.loop import (
    loop_backoff_clear,
    loop_backoff_enter,
    loop_current_set,
    loop_state_get,
)
from goals.services.persist import (
    PRIORITY_META_REVIEW,
    PRIORITY_SHAKE_UP,
    PRIORITY_SNAPSHOT,
    persist_critic,
    persist_editor,
    persist_ideator,
    persist_planner,
)
from goals.services.queue import (
    LeaseLost,
    task_claim_next,
    task_complete,
    task_create,
    task_fail,
    task_leases_expire,
    task_release,
)
from ideas.context import context_build
from ideas.mode import mode_choose
from ideas.models import Idea, Theme
from ideas.selectors import portfolio_stats, priority_ideas, theme_active
from ideas.services import snapshot_create
from ideas.stagnation import stagnation_check, text_similarity
from ideas.stats import diversity

logger = logging.getLogger(__name__)

#: Task kinds that work on existing ideas and are pointless without them.
IDEA_KINDS = frozenset({TaskKind.CRITIQUE, TaskKind.COMPARE, TaskKind.REFINE, TaskKind.EDIT})
PLAN = "plan"
SCATTER_SAMPLE = 50


@dataclass(frozen=True)
class Gate:
    """Why this tick does no work, and how long until it might."""

    status: str
    detail: str = ""
    wait_seconds: float = 0.0


@dataclass
class Work:
    """What this iteration does: decided before any model call."""

    theme: Theme
    worker: str
    number: int
    kind: str
    role: str
    mode: str
    task: Task | None = None
    focus_ideas: list[Idea] = field(default_factory=list)
    explore_ratio: float = 0.5
    focus: str = ""


@dataclass
class StagnationVerdict:
    stalled: bool = False
    similarity: float | None = None


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


# --- gates ------------------------------------------------------------------------------


def loop_gate(*, state: LoopState, scheduled: bool, now: dt.datetime) -> Gate | None:
    """None when the loop may work now, else why not.

    The scheduled loop runs only when started; the foreground ``runloop`` ignores a
    stopped scheduled loop but obeys a pause. Both wait out a backoff and the rest the
    duty cycle asks for.
    """
    if state.state == LoopState.State.PAUSED:
        return Gate("paused", state.reason or "paused")
    if scheduled and state.state == LoopState.State.STOPPED:
        return Gate("stopped", state.reason or "stopped: run `manage.py runloop start`")
    if state.backoff_until and state.backoff_until > now:
        wait = (state.backoff_until - now).total_seconds()
        return Gate("backing_off", state.reason or state.last_error, wait)
    if state.rest_until and state.rest_until > now:
        wait = (state.rest_until - now).total_seconds()
        return Gate("resting", "duty cycle: resting", wait)
    return None


def budget_gate(*, theme: Theme, now: dt.datetime) -> Gate | None:
    """None while today's tokens are within the budget plus approved grants; past it, a
    decision is requested (once: the request is idempotent) and the loop spends nothing."""
    used = tokens_used_today(theme=theme, now=now)
    allowed = theme.daily_token_budget + tokens_granted_today(theme=theme, now=now)
    if used < allowed:
        return None
    decision = token_budget_decision_request(theme=theme, used=used, allowed=allowed, now=now)
    if decision is None:  # policy granted more tokens without asking
        return None
    detail = (
        f"daily token budget used: {used:,} of {allowed:,} tokens; "
        f"waiting for decision #{decision.pk}"
    )
    return Gate("budget", detail, 60.0)


# --- picking the work ----------------------------------------------------------------------


def strategy_effective(*, theme: Theme, state: LoopState) -> tuple[float, str]:
    """The explore ratio and focus in force: a meta review's, else the theme's."""
    ratio, focus = state.strategy_for(theme)
    return (ratio if ratio is not None else theme.explore_ratio), focus


def scatter_measure(*, theme: Theme) -> float:
    """How spread the portfolio is (0 = one cluster, 1 = nothing in common).

    The measure of ``portfolio_stats``' ``scatter`` (the diversity of the newest ideas)
    on a smaller sample: it runs every iteration, and the pairwise comparison grows with
    the square of the sample (50 ideas: 1,225 pairs, about 2 ms; 200: 19,900 pairs).
    """
    sample = [
        f"{title}. {summary}"
        for title, summary in Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .order_by("-pk")
        .values_list("title", "summary")[:SCATTER_SAMPLE]
    ]
    value = diversity(sample)
    return 0.0 if value is None else value


def role_for(kind: str) -> str:
    if kind == TaskKind.SNAPSHOT:
        return Role.SYSTEM
    if kind == PLAN:
        return PLANNER
    return ROLE_FOR_KIND[kind]


def focus_ideas_pick(*, theme: Theme, task: Task | None, role: str, mode: str) -> list[Idea]:
    """The ideas this iteration shows in full: the task's own, else a sensible default."""
    if task is not None:
        own = list(
            task.ideas.filter(status__in=Idea.VISIBLE_STATUSES)
            .order_by("pk")
            .prefetch_related("tags")
        )
        if own:
            return own
    kind = task.kind if task is not None else PLAN
    if role == PLANNER:
        return list(priority_ideas(theme=theme, limit=12))
    if role == IDEATOR:
        if kind == TaskKind.GENERATE and mode == Mode.DEEPEN:
            return list(priority_ideas(theme=theme, limit=5))
        return []
    if kind == TaskKind.CRITIQUE:
        unscored = Idea.objects.filter(
            theme=theme, status__in=Idea.VISIBLE_STATUSES, brand_fit__isnull=True
        ).order_by("-pk")[:3]  # newest first, by the primary key's index
        return list(unscored) or list(priority_ideas(theme=theme, limit=3))
    if kind == TaskKind.COMPARE:
        return list(priority_ideas(theme=theme, limit=4))
    return list(priority_ideas(theme=theme, limit=2))


def work_pick(*, theme: Theme, worker: str, state: LoopState, now: dt.datetime) -> Work:
    """Claim the next task (or none: the planner's turn) and decide role, mode and focus."""
    task = task_claim_next(theme=theme, worker=worker, now=now)
    number = iteration_number_last(theme=theme) + 1
    ratio, focus = strategy_effective(theme=theme, state=state)
    # Stalled while a shake-up is open for this theme: derived from the queue, so a
    # theme switch or a completed shake-up needs no flag to be reset.
    stalled = Task.objects.filter(
        theme=theme, kind=TaskKind.SHAKE_UP, status__in=Task.OPEN_STATUSES
    ).exists()
    mode = mode_choose(
        iteration_number=number,
        explore_ratio=ratio,
        stalled=stalled,
        scatter=scatter_measure(theme=theme),
    )
    kind = task.kind if task is not None else PLAN
    role = role_for(kind)
    focus_ideas = (
        []
        if role == Role.SYSTEM
        else focus_ideas_pick(theme=theme, task=task, role=role, mode=mode)
    )
    return Work(
        theme=theme,
        worker=worker,
        number=number,
        kind=kind,
        role=role,
        mode=mode,
        task=task,
        focus_ideas=focus_ideas,
        explore_ratio=ratio,
        focus=focus,
    )


# --- the prompt -------------------------------------------------------------------------


def _corrections(theme: Theme, limit: int = 8) -> list[str]:
    """Ideas people re-scored or reviewed, most recent first: the planner follows them."""
    rows = (
        Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)
        .exclude(reviewed_at__isnull=True, human_brand_fit__isnull=True)
        .order_by(F("reviewed_at").desc(nulls_last=True), "-updated_at")[:limit]
    )
    lines = []
    for idea in rows:
        human = {
            name: getattr(idea, f"human_{name}")
            for name in ("brand_fit", "novelty", "feasibility")
            if getattr(idea, f"human_{name}") is not None
        }
        model = {name: getattr(idea, name) for name in human}
        reviewed = " reviewed by a person;" if idea.reviewed_at else ""
        scores = f" human scores {human} (model said {model})" if human else ""
        lines.append(f"#{idea.pk} {idea.title}:{reviewed}{scores}")
    return lines


def user_message_build(*, work: Work, ideas_text: str) -> str:
    """The per-task user message for ``work``'s role."""
    view = TaskView(
        kind=work.kind,
        task_id=work.task.pk if work.task else None,
        brief=work.task.brief if work.task else "",
        idea_ids=tuple(i.pk for i in work.focus_ideas),
        metadata=work.task.metadata if work.task else {},
    )
    if work.role == IDEATOR:
        limit = conf().recent_directions
        directions = recent_directions(theme=work.theme, limit=limit)
        if work.kind == TaskKind.SHAKE_UP:
            directions = list(work.task.metadata.get("avoid", [])) + directions  # type: ignore[union-attr]
        return ideator_message(
            task=view,
            mode=work.mode,
            ideas_text=ideas_text,
            recent_directions=directions[: limit * 2],
            focus=work.focus,
        )
    if work.role == CRITIC:
        return critic_message(task=view, mode=work.mode, ideas_text=ideas_text, focus=work.focus)
    if work.role == EDITOR:
        return editor_message(task=view, mode=work.mode, ideas_text=ideas_text, focus=work.focus)
    meta = None
    if work.kind == TaskKind.META_REVIEW:
        meta = meta_review_stats(theme=work.theme)
        if work.task is not None:
            work.task.metadata = {**work.task.metadata, "stats": meta}
    return planner_message(
        task=view,
        mode=work.mode,
        ideas_text=ideas_text,
        stats=portfolio_stats(theme=work.theme),
        queue=queue_counts(theme=work.theme),
        recent_work=recent_work(theme=work.theme),
        corrections=_corrections(work.theme),
        explore_ratio=work.explore_ratio,
        focus=work.focus,
        meta_stats=meta,
    )


# --- after the call ---------------------------------------------------------------------


def stagnation_assess(*, work: Work, parsed: Any) -> StagnationVerdict:
    """Is the ideator repeating itself? Only ideator output is judged."""
    if work.role != IDEATOR:
        return StagnationVerdict()
    theme = work.theme
    new_text = ideator_text(parsed)
    recent = recent_ideator_texts(theme=theme, limit=max(theme.stagnation_window * 2, 2))
    similarity = max((text_similarity(new_text, old) for old in recent), default=None)
    stalled = stagnation_check(
        recent_texts=recent,
        new_text=new_text,
        threshold=theme.stagnation_threshold,
        window=theme.stagnation_window,
    )
    return StagnationVerdict(stalled=stalled, similarity=similarity)


def _iteration_new(
    *, work: Work, call: CallOutcome, outcome: str, started_at: dt.datetime, prefix: int
) -> Iteration:
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
        error_class=call.error_class,
        error_detail=str(call.error.detail)[:4000] if call.error else "",
        duration_ms=max(0, int((finished - started_at).total_seconds() * 1000)),
        started_at=started_at,
        finished_at=finished,
    )
    iteration.full_clean()
    iteration.save()
    return iteration


def _schedule_reviews(*, work: Work, iteration: Iteration) -> list[int]:
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


def _stagnation_apply(
    *, work: Work, iteration: Iteration, verdict: StagnationVerdict, now: dt.datetime
) -> int | None:
    """Mark the thread stalled and queue a shake-up, or clear it after a good shake-up."""
    if work.role != IDEATOR:
        return None
    if verdict.stalled:
        LoopState.objects.filter(pk=LoopState.SINGLETON_ID, stalled_since__isnull=True).update(
            stalled_since=now
        )
        task, created = task_create(
            theme=work.theme,
            kind=TaskKind.SHAKE_UP,
            priority=PRIORITY_SHAKE_UP,
            brief="The ideas repeat themselves: propose directions unlike the recent ones.",
            dedupe_key=TaskKind.SHAKE_UP,
            metadata={
                "avoid": recent_directions(theme=work.theme, limit=conf().recent_directions),
                "similarity": verdict.similarity,
            },
            created_by_iteration=iteration,
        )
        return task.pk if created else None
    if work.kind == TaskKind.SHAKE_UP:
        LoopState.objects.filter(pk=LoopState.SINGLETON_ID).update(stalled_since=None)
    return None


def iteration_persist(
    *,
    work: Work,
    call: CallOutcome,
    verdict: StagnationVerdict,
    started_at: dt.datetime,
    prefix: int,
) -> Iteration:
    """Write everything the answer produced, the iteration and the task's completion in
    one transaction. Raises ``LeaseLost`` (and writes nothing) when the task moved on."""
    parsed = call.result.parsed if call.result is not None else None
    now = timezone.now()
    with transaction.atomic():
        if work.task is not None:
            # Checked first, so a late worker fails before it writes anything; checked
            # again by task_complete at the end, under the same transaction.
            still_mine = Task.objects.filter(
                pk=work.task.pk, status=Task.Status.RUNNING, lease_owner=work.worker
            ).exists()
            if not still_mine:
                raise LeaseLost(f"task {work.task.pk} is no longer leased to {work.worker}")
        outcome = Iteration.Outcome.REPAIRED if call.repaired else Iteration.Outcome.OK
        iteration = _iteration_new(
            work=work, call=call, outcome=outcome, started_at=started_at, prefix=prefix
        )
        iteration.similarity = verdict.similarity
        if work.role == IDEATOR:
            result = persist_ideator(theme=work.theme, iteration=iteration, parsed=parsed)
        elif work.role == CRITIC:
            result = persist_critic(
                theme=work.theme, iteration=iteration, parsed=parsed, focus=work.focus_ideas
            )
        elif work.role == EDITOR:
            result = persist_editor(
                theme=work.theme, iteration=iteration, parsed=parsed, focus=work.focus_ideas
            )
        else:
            result = persist_planner(theme=work.theme, iteration=iteration, parsed=parsed)
            if work.kind == TaskKind.META_REVIEW:
                result["strategy"] = strategy_propose(
                    theme=work.theme,
                    proposal=parsed.get("strategy"),
                    current_ratio=work.explore_ratio,
                    stats=(work.task.metadata.get("stats") if work.task else None) or {},
                    iteration=iteration,
                )
        shake_up = _stagnation_apply(work=work, iteration=iteration, verdict=verdict, now=now)
        if shake_up:
            result["shake_up_queued"] = shake_up
        result["reviews_queued"] = _schedule_reviews(work=work, iteration=iteration)
        iteration.result = result
        iteration.save(update_fields=["result", "similarity"])
        if work.task is not None:
            task_complete(task=work.task, worker=work.worker, now=now)
    return iteration


def _iteration_unpersisted(
    *, work: Work, call: CallOutcome, started_at: dt.datetime, prefix: int, exc: Exception
) -> Iteration:
    """Record the tokens of an answer whose results could not be written."""
    with transaction.atomic():
        iteration = _iteration_new(
            work=work,
            call=call,
            outcome=Iteration.Outcome.FAILED,
            started_at=started_at,
            prefix=prefix,
        )
        iteration.error_class = "persist_error"
        iteration.error_detail = f"{type(exc).__name__}: {exc}"[:4000]
        iteration.save(update_fields=["error_class", "error_detail"])
    LoopState.objects.filter(pk=LoopState.SINGLETON_ID).update(
        tokens_total=F("tokens_total") + iteration.total_tokens
    )
    return iteration


def iteration_fail(
    *, work: Work, call: CallOutcome, started_at: dt.datetime, prefix: int
) -> Iteration:
    """Record a failed call and give the task back: released when the server was at
    fault, failed (retried later, then blocked) when the answer was."""
    with transaction.atomic():
        iteration = _iteration_new(
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
                try:
                    with transaction.atomic():
                        task_fail(
                            task=work.task,
                            worker=work.worker,
                            error_class=call.error_class,
                            detail=str(call.error),
                        )
                except LeaseLost:
                    logger.warning("task %s was reclaimed while its call failed", work.task.pk)
    return iteration


def iteration_without_ideas(*, work: Work, started_at: dt.datetime) -> Iteration:
    """A task about existing ideas whose ideas are gone: fail it for good, no model call."""
    call = CallOutcome()
    with transaction.atomic():
        iteration = _iteration_new(
            work=work, call=call, outcome=Iteration.Outcome.FAILED, started_at=started_at, prefix=0
        )
        iteration.error_class = "no_ideas"
        iteration.error_detail = "none of the task's ideas is visible any more"
        iteration.save(update_fields=["error_class", "error_detail"])
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
        iteration = _iteration_new(
            work=work,
            call=CallOutcome(),
            outcome=Iteration.Outcome.OK,
            started_at=started_at,
            prefix=0,
        )
        iteration.result = {"snapshot": snapshot.pk}
        iteration.save(update_fields=["result"])
        task_complete(task=work.task, worker=work.worker)
    return iteration


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


def loop_after(*, work: Work, iteration: Iteration, call: CallOutcome, started: float) -> None:
    """Book-keeping after an iteration: counters, prefix ids, duty-cycle rest, backoff."""
    now = timezone.now()
    if call.error is not None and call.infrastructure_failure:
        loop_backoff_enter(error_class=call.error_class, detail=str(call.error), now=now)
    elif call.error is not None and call.answer_failure:
        _bad_answers_backoff(work=work, call=call, now=now)
    elif call.model_calls and call.error is None:
        loop_backoff_clear(now=now)
    worked = time.perf_counter() - started
    duty = work.theme.duty_cycle
    rest = worked * (1 - duty) / duty if 0 < duty < 1 else 0.0
    updates: dict[str, Any] = {
        "iterations_total": F("iterations_total") + 1,
        "tokens_total": F("tokens_total") + iteration.prompt_tokens + iteration.completion_tokens,
        "last_iteration_at": now,
        "rest_until": now + dt.timedelta(seconds=rest) if rest > 0 else None,
        "current_task": None,
        "current_role": "",
        "current_worker": "",
        "current_started_at": None,
    }
    if iteration.outcome == Iteration.Outcome.FAILED:
        updates["iterations_failed"] = F("iterations_failed") + 1
        if not call.infrastructure_failure:
            updates["last_error_class"] = iteration.error_class
            updates["last_error"] = iteration.error_detail[:4000]
            updates["last_error_at"] = now
    LoopState.objects.filter(pk=LoopState.SINGLETON_ID).update(**updates)
    if call.prompt_ids and work.role in (PLANNER, IDEATOR, CRITIC, EDITOR):
        # Only the row's JSON for this role changes; concurrent workers of other roles
        # may overwrite each other's entry, which costs one prefix figure, nothing more.
        state = loop_state_get()
        state.last_prompt_ids = {**state.last_prompt_ids, work.role: call.prompt_ids}
        LoopState.objects.filter(pk=state.pk).update(last_prompt_ids=state.last_prompt_ids)


# --- the whole step ----------------------------------------------------------------------


def iteration_run(
    *,
    worker: str,
    scheduled: bool,
    client: LLMClient | None = None,
    now: dt.datetime | None = None,
) -> IterationReport:
    """Run one bounded iteration, or say why not (paused, stopped, backing off, resting,
    out of budget, no theme)."""
    started = time.perf_counter()
    now = now or timezone.now()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        current = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + (current - since) * 1000
        return current

    state = loop_state_get()
    gate = loop_gate(state=state, scheduled=scheduled, now=now)
    if gate is not None:
        return IterationReport(gate.status, gate.detail, wait_seconds=gate.wait_seconds)
    theme = theme_active()
    if theme is None:
        return IterationReport(
            "no_theme", "no active theme: load one with `manage.py newtheme`", wait_seconds=60.0
        )
    gate = budget_gate(theme=theme, now=now)
    if gate is not None:
        return IterationReport(gate.status, gate.detail, wait_seconds=gate.wait_seconds)
    task_leases_expire(now=now)
    work = work_pick(theme=theme, worker=worker, state=state, now=now)
    started_at = timezone.now()
    if work.role == Role.SYSTEM:
        iteration = snapshot_run(work=work, started_at=started_at)
        call = CallOutcome()
        loop_after(work=work, iteration=iteration, call=call, started=started)
        lap("db", started)
        return IterationReport("ran", iteration=iteration, timings=timings)
    if work.kind in IDEA_KINDS and not work.focus_ideas:
        iteration = iteration_without_ideas(work=work, started_at=started_at)
        loop_after(work=work, iteration=iteration, call=CallOutcome(), started=started)
        return IterationReport("ran", iteration=iteration, timings=timings)
    loop_current_set(task=work.task, role=work.role, worker=worker)
    mark = lap("db", started)
    context = context_build(
        theme=theme,
        role=work.role,
        focus_ideas=work.focus_ideas,
        token_budget=conf().context_token_budget,
    )
    request = request_build(
        role=work.role,
        brand_text=context.developer_text,
        user=user_message_build(work=work, ideas_text=context.ideas_text),
        max_tokens=theme.token_cap(work.role),
        day=timezone.localdate(now),
    )
    mark = lap("context", mark)
    call = role_call(client=client or llm_client(), request=request)
    mark = lap("call", mark)
    prefix = call.prefix_shared_with(state.last_prompt_ids.get(work.role))
    if not call.ok:
        iteration = iteration_fail(work=work, call=call, started_at=started_at, prefix=prefix)
        report = IterationReport("ran", str(call.error), iteration=iteration)
    else:
        verdict = stagnation_assess(work=work, parsed=call.result.parsed)  # type: ignore[union-attr]
        try:
            iteration = iteration_persist(
                work=work, call=call, verdict=verdict, started_at=started_at, prefix=prefix
            )
            report = IterationReport("ran", iteration=iteration)
        except LeaseLost as exc:
            # The tokens were spent: record them, change nothing else.
            with transaction.atomic():
                iteration = _iteration_new(
                    work=work,
                    call=call,
                    outcome=Iteration.Outcome.LEASE_LOST,
                    started_at=started_at,
                    prefix=prefix,
                )
            report = IterationReport("ran", str(exc), iteration=iteration)
        except Exception as exc:
            # A bug or a database error while persisting: the answer's tokens were
            # billed all the same, so they are recorded (the budget counts them) before
            # the error goes on to the caller; the task's lease runs out and it retries.
            try:
                _iteration_unpersisted(
                    work=work, call=call, started_at=started_at, prefix=prefix, exc=exc
                )
            except Exception:  # the database itself is gone: the original error matters
                logger.exception("could not record the tokens of an unpersisted answer")
            raise
    loop_after(work=work, iteration=iteration, call=call, started=started)
    lap("db", mark)
    for name in ("http", "render", "client"):
        if name in call.timings:
            timings[name] = call.timings[name]
    report.timings = timings
    return report
