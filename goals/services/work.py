"""Picking the work: claim a task (or take the planner's turn) and decide everything the
iteration needs before any model call: role, mode, focus ideas, strategy, and what the
task kind prepares (a meta review's statistics).

``KIND_HANDLERS`` is the table of task kinds: which role does each (``goals.roles``),
whether it is pointless without ideas, which ideas it shows by default, what it
prepares, and whether it needs the model at all. ``goals.services.iteration`` runs a
kind through its entry; adding a kind is one entry here and one in its role's ``kinds``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from bizagent.sql import (
    column,
    columns,
    models_from_rows,
    placeholders,
    rows_fetch,
    statement,
    table,
)
from goals.models import PLAN, LoopState, Mode, Role, Task, TaskKind
from goals.roles import ROLE_FOR_KIND
from goals.selectors import iteration_number_last
from goals.services.governance import meta_review_stats
from goals.services.queue import task_claim_next
from goals.work import Work
from ideas.mode import mode_choose
from ideas.models import Idea, Theme
from ideas.selectors import newest_texts, portfolio_stats, priority_ideas
from ideas.stats import diversity

SCATTER_SAMPLE = 50


# The focus ideas' tags are read by the context in one query (``ideas.context``), so
# the picks below leave them out.
def _focus_planner(theme: Theme, mode: str) -> list[Idea]:
    return list(priority_ideas(theme=theme, limit=12, with_tags=False))


def _focus_generate(theme: Theme, mode: str) -> list[Idea]:
    if mode != Mode.DEEPEN:
        return []
    return list(priority_ideas(theme=theme, limit=5, with_tags=False))


def _focus_none(theme: Theme, mode: str) -> list[Idea]:
    return []


def _focus_critique(theme: Theme, mode: str) -> list[Idea]:
    unscored = Idea.objects.filter(
        theme=theme, status__in=Idea.VISIBLE_STATUSES, brand_fit__isnull=True
    ).order_by("-pk")[:3]  # newest first, by the primary key's index
    return list(unscored) or list(priority_ideas(theme=theme, limit=3, with_tags=False))


def _focus_top(limit: int) -> Callable[[Theme, str], list[Idea]]:
    def pick(theme: Theme, mode: str) -> list[Idea]:
        return list(priority_ideas(theme=theme, limit=limit, with_tags=False))

    return pick


def _prepare_meta_review(work: Work) -> None:
    work.portfolio_stats = portfolio_stats(theme=work.theme)
    work.meta_stats = meta_review_stats(theme=work.theme, portfolio=work.portfolio_stats)


@dataclass(frozen=True)
class KindHandler:
    """How the loop runs one task kind."""

    role: str
    #: The ideas shown in full when the task names none (or there is no task).
    focus: Callable[[Theme, str], list[Idea]] = _focus_none
    #: Works on existing ideas: pointless (failed for good) when they are all gone.
    needs_ideas: bool = False
    #: Computes what the kind's prompt and persister read, before the model call.
    prepare: Callable[[Work], None] | None = None
    #: False for work done without the model (a snapshot).
    model: bool = True


KIND_HANDLERS: dict[str, KindHandler] = {
    PLAN: KindHandler(role=ROLE_FOR_KIND[PLAN], focus=_focus_planner),
    TaskKind.META_REVIEW: KindHandler(
        role=ROLE_FOR_KIND[TaskKind.META_REVIEW], focus=_focus_planner, prepare=_prepare_meta_review
    ),
    TaskKind.GENERATE: KindHandler(role=ROLE_FOR_KIND[TaskKind.GENERATE], focus=_focus_generate),
    TaskKind.SHAKE_UP: KindHandler(role=ROLE_FOR_KIND[TaskKind.SHAKE_UP]),
    TaskKind.CRITIQUE: KindHandler(
        role=ROLE_FOR_KIND[TaskKind.CRITIQUE], focus=_focus_critique, needs_ideas=True
    ),
    TaskKind.COMPARE: KindHandler(
        role=ROLE_FOR_KIND[TaskKind.COMPARE], focus=_focus_top(4), needs_ideas=True
    ),
    TaskKind.REFINE: KindHandler(
        role=ROLE_FOR_KIND[TaskKind.REFINE], focus=_focus_top(2), needs_ideas=True
    ),
    TaskKind.EDIT: KindHandler(
        role=ROLE_FOR_KIND[TaskKind.EDIT], focus=_focus_top(2), needs_ideas=True
    ),
    TaskKind.SNAPSHOT: KindHandler(role=Role.SYSTEM, model=False),
}

#: Task kinds that work on existing ideas and are pointless without them.
IDEA_KINDS = frozenset(kind for kind, handler in KIND_HANDLERS.items() if handler.needs_ideas)


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
    value = diversity(newest_texts(theme=theme, limit=SCATTER_SAMPLE))
    return 0.0 if value is None else value


@statement
def _task_ideas_sql() -> str:
    through = Task.ideas.through
    idea_id = column(Idea, "id")
    return (
        f"SELECT {columns(Idea, alias='i')} FROM {table(Idea)} i "  # noqa: S608 - names from model metadata
        f"JOIN {table(through)} ti ON ti.{column(through, 'idea')} = i.{idea_id} "
        f"WHERE ti.{column(through, 'task')} = %s "
        f"AND i.{column(Idea, 'status')} IN ({placeholders(len(Idea.VISIBLE_STATUSES))}) "
        f"ORDER BY i.{idea_id}"
    )


def task_ideas_visible(*, task: Task) -> list[Idea]:
    """The task's visible ideas by primary key, tags not prefetched: what
    ``task.ideas.filter(status__in=VISIBLE).order_by("pk")`` reads, written out because
    the loop reads it on every task it claims."""
    rows = rows_fetch(_task_ideas_sql(), [task.pk, *Idea.VISIBLE_STATUSES])
    return models_from_rows(Idea, rows)


def role_for(kind: str) -> str:
    return KIND_HANDLERS[kind].role


def focus_ideas_pick(*, theme: Theme, task: Task | None, mode: str) -> list[Idea]:
    """The ideas this iteration shows in full: the task's own, else its kind's default."""
    handler = KIND_HANDLERS[task.kind if task is not None else PLAN]
    if not handler.model:
        return []
    if task is not None:
        # No tags prefetched: the context reads the shown ideas' tags and links itself
        # (``ideas.context``), in one query for all of them.
        own = task_ideas_visible(task=task)
        if own:
            return own
    return handler.focus(theme, mode)


def work_pick(
    *,
    theme: Theme,
    worker: str,
    state: LoopState,
    now: dt.datetime,
    last_number: int | None = None,
    shake_up_open: bool | None = None,
) -> Work:
    """Claim the next task (or none: the planner's turn) and decide role, mode and focus.

    ``last_number`` and ``shake_up_open``: the theme's last iteration number and whether a
    shake-up is open, when the caller read them already (``iteration_start_read``).
    """
    task = task_claim_next(theme=theme, worker=worker, now=now)
    if last_number is None:
        last_number = iteration_number_last(theme=theme)
    number = last_number + 1
    ratio, focus = strategy_effective(theme=theme, state=state)
    # Stalled while a shake-up is open for this theme: derived from the queue, so a
    # theme switch or a completed shake-up needs no flag to be reset.
    stalled = (
        shake_up_open
        if shake_up_open is not None
        else Task.objects.filter(
            theme=theme, kind=TaskKind.SHAKE_UP, status__in=Task.OPEN_STATUSES
        ).exists()
    )
    mode = mode_choose(
        iteration_number=number,
        explore_ratio=ratio,
        stalled=stalled,
        # A stall wins over scatter (``explore_ratio_effective``): not read for nothing.
        scatter=0.0 if stalled else scatter_measure(theme=theme),
    )
    kind = task.kind if task is not None else PLAN
    return Work(
        theme=theme,
        worker=worker,
        number=number,
        kind=kind,
        role=role_for(kind),
        mode=mode,
        task=task,
        focus_ideas=focus_ideas_pick(theme=theme, task=task, mode=mode),
        explore_ratio=ratio,
        focus=focus,
    )


def work_prepare(work: Work) -> None:
    """Let the kind compute what its prompt and persister read (once, before the call)."""
    prepare = KIND_HANDLERS[work.kind].prepare
    if prepare is not None:
        prepare(work)
