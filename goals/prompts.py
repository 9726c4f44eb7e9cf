"""The per-task user messages: everything that changes from one call of a role to the next.

Pure functions of plain values, so they are unit-tested without a database and their
output is deterministic (a stable order of sections and ideas).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from goals.roles import MAX_IDEAS_PER_ANSWER


@dataclass(frozen=True)
class TaskView:
    """What a prompt needs to know about the task (or the planner's turn without one)."""

    kind: str
    task_id: int | None = None
    brief: str = ""
    idea_ids: tuple[int, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(f"#{i}" for i in ids) or "none"


def _section(title: str, body: str) -> str:
    return f"# {title}\n{body.strip()}" if body.strip() else ""


def _join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def _header(task: TaskView, mode: str, focus: str) -> str:
    lines = [f"kind: {task.kind}" + (f" (task {task.task_id})" if task.task_id else "")]
    lines.append(f"mode: {mode}")
    if focus:
        lines.append(f"strategy focus: {focus}")
    if task.brief:
        lines.append(f"brief: {task.brief}")
    return _section("Request", "\n".join(lines))


def ideator_message(
    *,
    task: TaskView,
    mode: str,
    ideas_text: str,
    recent_directions: Sequence[str] = (),
    focus: str = "",
) -> str:
    if task.kind == "shake_up":
        avoid = "\n".join(f"- {d}" for d in recent_directions) or "- (none recorded)"
        ask = (
            "SHAKE-UP. The studio has been repeating itself. Every idea you propose must "
            "differ from all the directions below in customer and in business model. Do "
            "not reuse their titles, customers or formats."
        )
        return _join(
            _header(task, "shake-up", focus),
            ask,
            _section("Recent directions (off limits)", avoid),
            _section("Existing ideas", ideas_text),
            f"Propose {MAX_IDEAS_PER_ANSWER} ideas.",
        )
    if mode == "deepen" and task.idea_ids:
        ask = (
            f"DEEPEN. Develop the focus ideas {_ids(task.idea_ids)}: stronger variants, "
            "adjacent offers, the next product for the same customers. Put the IDs you "
            "build on in `builds_on`."
        )
    elif mode == "deepen":
        ask = (
            "DEEPEN. Develop the highest-priority ideas below: stronger variants, adjacent "
            "offers, the next product for the same customers. Put the IDs you build on in "
            "`builds_on`."
        )
    else:
        ask = (
            "EXPLORE. Open a direction the portfolio below does not cover yet: a new "
            "customer, channel, format or business model. Use the listed ideas only to "
            "know what to avoid; leave `builds_on` empty."
        )
    recent = "\n".join(f"- {d}" for d in recent_directions)
    return _join(
        _header(task, mode, focus),
        ask,
        _section("Recent directions", recent),
        _section("Ideas", ideas_text),
        "Propose 3 ideas.",
    )


def critic_message(*, task: TaskView, mode: str, ideas_text: str, focus: str = "") -> str:
    if task.kind == "compare":
        ask = (
            f"COMPARE ideas {_ids(task.idea_ids)}: review each, then rank them from best to "
            "worst in `ranking` and explain the order in `rationale`."
        )
    else:
        ask = (
            f"CRITIQUE ideas {_ids(task.idea_ids)}: score each, with strengths, weaknesses, "
            "a verdict and one suggestion. `ranking` may be empty."
        )
    return _join(_header(task, mode, focus), ask, _section("Ideas", ideas_text))


def editor_message(*, task: TaskView, mode: str, ideas_text: str, focus: str = "") -> str:
    notes = task.metadata.get("suggestions") or {}
    lines = [f"- #{key}: {value}" for key, value in sorted(notes.items()) if value]
    if task.kind == "refine":
        ask = (
            f"REFINE ideas {_ids(task.idea_ids)}: strengthen each on its weakest dimension "
            "(the lowest score, or the critic's suggestion below)."
        )
    else:
        ask = (
            f"EDIT ideas {_ids(task.idea_ids)}: fix vague wording, make audiences specific, "
            "keep summaries to one line."
        )
    return _join(
        _header(task, mode, focus),
        ask,
        _section("Critic's suggestions", "\n".join(lines)),
        _section("Ideas", ideas_text),
    )


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
) -> str:
    if meta_stats is not None:
        ask = (
            "META REVIEW. Judge the statistics below against the brand. Queue the next "
            "tasks, and set `strategy` only if the explore ratio or the focus should change."
        )
    else:
        ask = "PLAN. The queue is empty: queue the next 2 to 6 tasks. Set `strategy` to null."
    stats_text = json.dumps(stats, ensure_ascii=False, sort_keys=True, default=str)
    queue_text = ", ".join(f"{k}: {v}" for k, v in sorted(queue.items())) or "empty"
    return _join(
        _header(task, mode, focus),
        ask,
        f"current explore ratio: {explore_ratio:.2f}",
        _section(
            "System statistics",
            json.dumps(meta_stats, ensure_ascii=False, sort_keys=True) if meta_stats else "",
        ),
        _section("Portfolio", stats_text),
        _section("Queue", queue_text),
        _section("Recent work", "\n".join(f"- {w}" for w in recent_work)),
        _section(
            "People's corrections (follow their lead)", "\n".join(f"- {c}" for c in corrections)
        ),
        _section("Ideas by priority", ideas_text),
    )
