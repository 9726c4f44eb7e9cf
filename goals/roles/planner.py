"""The planner: queues the next tasks (the loop's own turn), and runs the meta review."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.core.cache import cache

from bizagent.llm.types import ResponseFormat
from goals.models import PLAN, Iteration, Role, Task, TaskKind
from goals.roles.base import (
    ID_LIST,
    MAX_PLANNED_TASKS,
    SCORE_NAMES,
    RoleHandler,
    RoleSpec,
    TaskView,
    changes_split,
    header,
    ideas_split,
    join,
    section,
    task_view,
)
from goals.selectors import queue_counts, recent_work
from goals.services.governance import strategy_propose
from goals.services.persist import PRIORITY_FALLBACK_GENERATE
from goals.services.queue import TaskSpec, task_create, tasks_create
from goals.work import Work, context_epoch, epoch_start
from ideas.models import Theme
from ideas.selectors import ideas_corrected, ideas_visible, portfolio_stats

#: Task kinds the planner may queue; snapshot, meta_review and shake_up are the loop's own.
PLANNABLE_KINDS: tuple[str, ...] = (
    TaskKind.GENERATE,
    TaskKind.REFINE,
    TaskKind.COMPARE,
    TaskKind.CRITIQUE,
    TaskKind.EDIT,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["assessment", "tasks", "strategy"],
    "properties": {
        "assessment": {"type": "string", "minLength": 3, "maxLength": 1500},
        "tasks": {
            "type": "array",
            "maxItems": MAX_PLANNED_TASKS,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["kind", "priority", "idea_ids", "brief"],
                "properties": {
                    "kind": {"type": "string", "enum": [str(k) for k in PLANNABLE_KINDS]},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 100},
                    "idea_ids": ID_LIST,
                    "brief": {"type": "string", "minLength": 3, "maxLength": 400},
                },
            },
        },
        # null unless the request is a meta review that wants to change course.
        "strategy": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["explore_ratio", "focus", "magnitude", "reason"],
            "properties": {
                "explore_ratio": {"type": "number", "minimum": 0.05, "maximum": 0.95},
                "focus": {"type": "string", "maxLength": 400},
                "magnitude": {"type": "number", "minimum": 0, "maximum": 1},
                "reason": {"type": "string", "minLength": 3, "maxLength": 800},
            },
        },
    },
}

INSTRUCTIONS = """\
You are the planner of an autonomous studio that develops business ideas for one brand,
around the clock. You decide what the studio does next, and every so often you review
how the work is going and propose a change of course.

# What you do
- Read the portfolio statistics, the highest-priority ideas and the recent work, then
  queue the next 2 to 6 tasks. Each task has a kind, a priority from 1 (can wait) to 100
  (do next), the IDs of the ideas it concerns, and a one or two sentence brief that says
  exactly what the worker should achieve.
- Task kinds:
  - generate: invent new ideas (no IDs, or IDs of ideas to move away from or build on).
  - critique: score and judge 1 to 5 ideas that have no scores or stale ones.
  - compare: rank 2 to 5 ideas that compete for the same customer.
  - refine: improve 1 to 3 promising ideas on their weakest dimension.
  - edit: tighten wording, fix vague audiences or revenue models in 1 to 3 ideas.
- Balance the portfolio: unscored ideas get critiqued before they are refined; ideas
  people marked reviewed or re-scored matter most, follow their lead; do not queue
  work on the same idea twice in one plan; keep generating when the portfolio is thin.
- The request says whether the studio is exploring (new directions) or deepening (making
  the best ideas better); weight your plan accordingly.

# Meta review
When the request says META REVIEW you also get statistics computed by the system: the
portfolio figures (score means and variances, diversity, repetition, drift from the
brand) as they stand now, and the loop's own record (repetition of the recent batches,
explore share, failure rate) after the request. Judge whether the
current explore ratio and focus still serve the brand. Set `strategy` to propose a new
explore ratio (between 0.05 and 0.95), a focus sentence, the magnitude of the change
(0 to 1: the share of the studio's effort it redirects) and your reason. Changes of 20%
or more go to a person for approval, so propose them only with evidence. Otherwise,
and always outside a meta review, set `strategy` to null."""

SPEC = RoleSpec(
    name=Role.PLANNER,
    instructions=INSTRUCTIONS,
    response_format=ResponseFormat(
        name="plan",
        schema=SCHEMA,
        description="The next tasks for the studio, and a strategy change or null.",
    ),
)


#: The recent work opens this many iterations before the context epoch, so the epoch's
#: first plan sees as much history as the last 8 iterations gave (and later plans more).
RECENT_WORK_BEFORE_EPOCH = 8

#: The epoch's first figures outlive the epoch only by this much (an epoch is ten
#: iterations).
EPOCH_STATS_SECONDS = 24 * 3600

#: What every planner call asks, a plan or a meta review: first in the user message.
ASK = "Queue the next 2 to 6 tasks from the ideas, figures and recent work below."


def planner_message(
    *,
    task: TaskView,
    mode: str,
    ideas_text: str,
    stats: dict[str, Any],
    queue: dict[str, int],
    recent_work: Sequence[str],
    corrections: Sequence[str],
    explore_ratio: float,
    focus: str = "",
    meta_stats: dict[str, Any] | None = None,
    stats_now: dict[str, Any] | None = None,
) -> str:
    """The planner's user message, most shared first: what every planner call asks, the
    slowly changing portfolio (the epoch's portfolio block, people's corrections, the
    explore ratio, the best ideas in full as the epoch's first call saw them), then what
    may move between two calls (the latest figures, new scores and ideas since), then the
    recent work, oldest first from the epoch's anchor (it always grows, by the earlier
    plan itself at least, so the earlier call's lines stay a prefix), the queue, and last
    the request, its kind's ask and a meta review's statistics.

    ``stats_now``: the figures now, when ``stats`` are those of the epoch's first plan
    (``epoch_stats_get``): the figures that moved since follow the recent work, on one line,
    so the figures' block stays the same for every plan of the epoch."""
    ideas_text, changes = changes_split(ideas_text)
    portfolio, focus_ideas = ideas_split(ideas_text)
    if meta_stats is not None:
        ask = (
            "META REVIEW. Judge the statistics below against the brand, and set `strategy` "
            "only if the explore ratio or the focus should change."
        )
    else:
        ask = "PLAN. The queue is empty. Set `strategy` to null."
    stats_text = json.dumps(stats, ensure_ascii=False, sort_keys=True, default=str)
    moved = stats_moved(stats, stats_now) if stats_now is not None else ""
    queue_text = ", ".join(f"{k}: {v}" for k, v in sorted(queue.items())) or "empty"
    system = meta_stats_text(meta_stats, shown=stats_now if stats_now is not None else stats)
    return join(
        ASK,
        section("Ideas", portfolio),
        section(
            "People's corrections (follow their lead)", "\n".join(f"- {c}" for c in corrections)
        ),
        f"current explore ratio: {explore_ratio:.2f}",
        section("Ideas by priority", focus_ideas),
        section("Portfolio", stats_text),
        # Oldest first from the epoch's anchor: the earlier call's lines, then the new ones
        # (at least the earlier plan's own), so it comes after the parts that may not move.
        section("Recent work", "\n".join(f"- {w}" for w in recent_work)),
        changes.strip(),
        section("Portfolio figures that moved since, now", moved),
        section("Queue", queue_text),
        header(task, mode, focus),
        ask,
        section(SYSTEM_STATISTICS_HEADING, system),
    )


#: The meta review's own statistics, after the request; the rest are the portfolio figures.
SYSTEM_STATISTICS_HEADING = "System statistics (and the portfolio figures above, as they are now)"


def meta_stats_text(meta_stats: dict[str, Any] | None, *, shown: dict[str, Any]) -> str:
    """The meta review's statistics (``meta_review_stats``) less those the prompt already
    shows as they are now: ``shown`` is the current ``portfolio_stats``, which the
    planner's figures block (with the line of figures that moved since) states above.

    ``meta_review_stats`` repeats most portfolio figures (score means and variances,
    diversity, repetition, brand drift, top tags): printed again they were about 250
    tokens of the one per-call tail a meta review has, and the model read each figure
    twice. What is left is the loop's own record, and any figure that differs from the
    one above (computed at another moment), so no figure is lost.
    """
    if not meta_stats:
        return ""
    own = {key: value for key, value in meta_stats.items() if shown.get(key, ...) != value}
    return json.dumps(own, ensure_ascii=False, sort_keys=True, default=str) if own else ""


def _flat(value: Any, prefix: str = "") -> dict[str, str]:
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for key in sorted(value):
            flat.update(_flat(value[key], f"{prefix}{key}."))
        return flat
    return {prefix[:-1]: json.dumps(value, ensure_ascii=False, default=str)}


def stats_moved(then: dict[str, Any], now: dict[str, Any]) -> str:
    """The figures of ``now`` that differ from ``then`` (two ``portfolio_stats``), by
    dotted name, on one line: ``ideas 43; scores.novelty.mean 5.3``. The earlier values
    stand in the figures above it; a figure ``now`` lacks shows as ``none``."""
    before, after = _flat(then), _flat(now)
    return "; ".join(
        f"{name} {after.get(name, 'none')}"
        for name in sorted(before.keys() | after.keys())
        if before.get(name) != after.get(name)
    )


def epoch_stats_get(*, work: Work, current: dict[str, Any]) -> dict[str, Any]:
    """The portfolio figures as the first plan of ``work``'s context epoch saw them.

    Kept in the shared cache like the epoch's portfolio block, so every plan of the epoch
    opens with the same figures (what the model server's prefix cache reuses) and lists
    what moved since after its recent work (``stats_moved``). The epoch's first plan with
    ideas in the portfolio stores ``current``.
    """
    if not current.get("ideas"):
        # An empty portfolio is no baseline: every figure would be listed as moved.
        return current
    theme = work.theme
    stamp = f"{theme.created_at.timestamp():.6f}"
    key = f"goals:planner-stats:{theme.pk}:{stamp}:{context_epoch(work.number)}"
    kept = cache.get(key)
    if isinstance(kept, dict):
        return kept
    if cache.add(key, current, EPOCH_STATS_SECONDS):
        return current
    kept = cache.get(key)  # another worker's plan came first: use its figures
    return kept if isinstance(kept, dict) else current


def corrections(theme: Theme, limit: int = 8) -> list[str]:
    """Ideas people re-scored or reviewed, most recent first: the planner follows them."""
    # The selector's filter matches the partial index ideas_idea_corrected: it reads the
    # few corrected ideas in order instead of sorting the visible portfolio.
    rows = ideas_corrected(theme=theme, limit=limit)
    lines = []
    for idea in rows:
        human = {
            name: getattr(idea, f"human_{name}")
            for name in SCORE_NAMES
            if getattr(idea, f"human_{name}") is not None
        }
        model = {name: getattr(idea, name) for name in human}
        reviewed = " reviewed by a person;" if idea.reviewed_at else ""
        scores = f" human scores {human} (model said {model})" if human else ""
        lines.append(f"#{idea.pk} {idea.title}:{reviewed}{scores}")
    return lines


def message_build(*, work: Work, ideas_text: str) -> str:
    current = work.portfolio_stats or portfolio_stats(theme=work.theme)
    return planner_message(
        task=task_view(work),
        mode=work.mode,
        ideas_text=ideas_text,
        stats=epoch_stats_get(work=work, current=current),
        stats_now=current,
        queue=queue_counts(theme=work.theme),
        recent_work=recent_work(
            theme=work.theme, since=epoch_start(work.number) - RECENT_WORK_BEFORE_EPOCH
        ),
        corrections=corrections(work.theme),
        explore_ratio=work.explore_ratio,
        focus=work.focus,
        meta_stats=work.meta_stats,
    )


def persist(*, work: Work, iteration: Iteration, parsed: dict[str, Any]) -> dict[str, Any]:
    """Queue the planned tasks, keeping only IDs of visible ideas of this theme; after a
    meta review, apply or propose its strategy.

    A plan that yields no task (all IDs unknown, or an empty list) falls back to one
    generate task, so an empty queue never stays empty.
    """
    theme = work.theme
    planned_tasks = [p for p in parsed.get("tasks", []) if p["kind"] in PLANNABLE_KINDS]
    # Every ID the plan names, read in one query (not one per planned task).
    visible = {
        idea.pk: idea
        for idea in ideas_visible(
            theme_id=theme.pk,
            ids=[pk for planned in planned_tasks for pk in planned.get("idea_ids") or []],
        )
    }
    specs: list[TaskSpec] = []
    for planned in planned_tasks:
        kind = planned["kind"]
        ids = dict.fromkeys(planned.get("idea_ids") or [])
        ideas = [visible[pk] for pk in ids if pk in visible]
        if kind != TaskKind.GENERATE and not ideas:
            continue
        key = f"{kind}:" + ",".join(str(i.pk) for i in sorted(ideas, key=lambda i: i.pk))
        specs.append(
            TaskSpec(
                kind=kind,
                priority=int(planned["priority"]),
                ideas=tuple(ideas),
                brief=planned.get("brief", ""),
                dedupe_key=key if ideas else "",
            )
        )
    queued = [
        task.pk
        for task, created in tasks_create(theme=theme, specs=specs, created_by_iteration=iteration)
        if created
    ]
    if not queued and not Task.objects.filter(theme=theme, status=Task.Status.READY).exists():
        task, _ = task_create(
            theme=theme,
            kind=TaskKind.GENERATE,
            priority=PRIORITY_FALLBACK_GENERATE,
            brief="The plan queued nothing usable: propose new ideas.",
            dedupe_key="generate:fallback",
            created_by_iteration=iteration,
        )
        queued.append(task.pk)
    result: dict[str, Any] = {"tasks_queued": queued}
    if work.kind == TaskKind.META_REVIEW:
        result["strategy"] = strategy_propose(
            theme=theme,
            proposal=parsed.get("strategy"),
            current_ratio=work.explore_ratio,
            stats=work.meta_stats or {},
            iteration=iteration,
        )
    return result


def update_text(parsed: Any) -> str:
    """The planner's update as text: its assessment and each planned task's brief."""
    if not isinstance(parsed, dict):
        return ""
    parts = [str(parsed.get("assessment", ""))]
    for planned in parsed.get("tasks", []):
        if isinstance(planned, dict):
            parts.append(f"{planned.get('kind', '')}: {planned.get('brief', '')}")
    return "\n".join(parts)


HANDLER = RoleHandler(
    spec=SPEC,
    kinds=(PLAN, TaskKind.META_REVIEW),
    message_build=message_build,
    persist=persist,
    update_text=update_text,
    # The top of the portfolio, which the critic re-scores between two plans: the same
    # bytes for the whole epoch, its new scores in a short late section.
    focus_per_epoch=True,
)
