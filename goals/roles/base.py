"""What every role shares: the role contract, the ground rules, schema parts, prompt helpers.

A role is one module in ``goals/roles/`` that defines a ``HANDLER``: its constant
``RoleSpec`` (instructions, answer schema, reasoning level), the builder of its user
message, the persister of its answer, and the text of its update (what stagnation
compares). ``goals.roles`` collects the handlers; nothing else branches on a role.

Prompt order, most shared first, so a prefix-caching server reuses as much as it can:

1. the system message (the date is pinned per day) — every call;
2. the developer message: the theme's brand text, then the ground rules — every call of
   every role for the theme (about 1,750 tokens of the example theme), then the role's
   own instructions and answer format — every call of that role;
3. the user message: what the role asks whatever the task's kind (the critic's review,
   the planner's "queue the next tasks"), then the portfolio block (the best ideas, one
   line each), the same bytes for every call of an epoch
   (``ideas.context.portfolio_block_get``), then what changes per task and last the
   request: its header (the task's id last), the kind's own ask, its ideas in full with
   current scores, the ideas related to them (the planner: its figures, the queue and
   the recent work before the request, a meta review's statistics after it).

The theme goes first in the developer message rather than in the user message: the
developer message is rendered before the response format and the user turn, so a theme
placed there is shared across *roles* too (placed in the user message it would follow
each role's own instructions and be shared only within a role).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bizagent.llm.types import ChatRequest, ReasoningLevel, ResponseFormat
from goals.work import Work
from ideas.context import CHANGES_HEADING, FOCUS_HEADING, PORTFOLIO_HEADING, RELATED_HEADING
from ideas.models import SCORE_FIELDS

MAX_IDEAS_PER_ANSWER = 5
MAX_PLANNED_TASKS = 6
#: The score names the critic's answer carries, in display order (``ideas.ScoreName``).
SCORE_NAMES = SCORE_FIELDS

ID_LIST = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1},
    "maxItems": 8,
    "uniqueItems": True,
}
TAGS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 40},
    "maxItems": 6,
    "uniqueItems": True,
}
IDEA_TEXT_FIELDS: dict[str, dict[str, Any]] = {
    "title": {"type": "string", "minLength": 3, "maxLength": 120},
    "summary": {"type": "string", "minLength": 10, "maxLength": 300},
    "target_audience": {"type": "string", "minLength": 3, "maxLength": 600},
    "value_proposition": {"type": "string", "minLength": 10, "maxLength": 1200},
    "revenue_model": {"type": "string", "minLength": 3, "maxLength": 800},
}
IDEA_FIELDS = (*IDEA_TEXT_FIELDS, "tags")

COMMON_RULES = """\
# Ground rules
- Work only inside the brand and project described above under "Brand and project".
  Never propose anything that touches the brand's taboos, and never anything illegal,
  violent, deceptive, discriminatory, sexual involving minors, or harmful to health.
  Such ideas are rejected by the system and count against you.
- Ideas are shown as `[#ID] Title — summary (brand_fit/novelty/feasibility)`. Refer to an
  existing idea only by its numeric ID, and only to IDs you were shown.
- Scores run from 0 to 10. A score marked `human` was set by a person: treat it as the
  truth, and learn from where it differs from the model's score.
- Think in the analysis channel. In the final channel answer with exactly one JSON
  object that matches the response format: no Markdown, no code fence, no commentary."""


@dataclass(frozen=True)
class RoleSpec:
    """Everything constant about one role's calls."""

    name: str
    instructions: str
    response_format: ResponseFormat
    reasoning: ReasoningLevel = "medium"


@dataclass(frozen=True)
class RoleHandler:
    """One role: its constant spec, and the three things the loop asks of it."""

    spec: RoleSpec
    #: The task kinds this role does (the planner also takes the loop's own turn).
    kinds: tuple[str, ...]
    #: ``message_build(work=, ideas_text=)``: the user message, portfolio context first.
    message_build: Callable[..., str]
    #: ``persist(work=, iteration=, parsed=)``: write the answer; returns a summary.
    persist: Callable[..., dict[str, Any]]
    #: ``update_text(parsed)``: the answer as the text stagnation compares.
    update_text: Callable[[Any], str]
    #: Its task's ideas are (mostly) the top of the portfolio, rendered once per context
    #: epoch (``context_build(focus_per_epoch=)``; a task whose ideas the epoch's rendering
    #: does not stand for gets its own); what changed since comes late.
    focus_per_epoch: bool = False


@dataclass(frozen=True)
class TaskView:
    """What a prompt needs to know about the task (or the planner's turn without one)."""

    kind: str
    task_id: int | None = None
    brief: str = ""
    idea_ids: tuple[int, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)


def task_view(work: Work) -> TaskView:
    task = work.task
    return TaskView(
        kind=work.kind,
        task_id=task.pk if task else None,
        brief=task.brief if task else "",
        idea_ids=tuple(i.pk for i in work.focus_ideas),
        metadata=dict(task.metadata) if task else {},
    )


def ids_text(ids: Sequence[int]) -> str:
    return ", ".join(f"#{i}" for i in ids) or "none"


def section(title: str, body: str) -> str:
    return f"# {title}\n{body.strip()}" if body.strip() else ""


def join(*parts: str) -> str:
    return "\n\n".join(part for part in parts if part)


def header(task: TaskView, mode: str, focus: str) -> str:
    # The task's id last: consecutive calls of a role often share the kind, the mode and
    # the focus (and a brief), never the id.
    lines = [f"kind: {task.kind}", f"mode: {mode}"]
    if focus:
        lines.append(f"strategy focus: {focus}")
    if task.brief:
        lines.append(f"brief: {task.brief}")
    if task.task_id:
        lines.append(f"task: {task.task_id}")
    return section("Request", "\n".join(lines))


def changes_split(ideas_text: str) -> tuple[str, str]:
    """``(ideas, changes)``: the ideas as rendered for the epoch, and what changed since
    (``CHANGES_HEADING``, last in the text when present), which belongs late."""
    at = ideas_text.find("\n" + CHANGES_HEADING)
    if at < 0:
        return ideas_text, ""
    return ideas_text[:at], ideas_text[at + 1 :]


def ideas_split(ideas_text: str) -> tuple[str, str]:
    """``(portfolio, task)``: the epoch's portfolio block, and the task's own ideas.

    ``ideas.context`` opens ``ideas_text`` with the portfolio block, the same bytes for
    every call of an epoch; the message puts it first and the task's ideas (the focus in
    full, the related summaries) after the request, where the calls differ anyway.
    """
    text = ideas_text.strip()
    if not text.startswith(PORTFOLIO_HEADING):
        return "", text
    ends = [at for h in (FOCUS_HEADING, RELATED_HEADING) if (at := text.find("\n" + h)) >= 0]
    if not ends:
        return text, ""
    return text[: min(ends)], text[min(ends) + 1 :]


def role_instructions(spec: RoleSpec, *, brand_text: str) -> str:
    """The developer instructions: the brand and the ground rules (shared by every role),
    then the role's constant instructions."""
    brand = brand_text.strip()
    shared = f"# Brand and project\n\n{brand}\n\n{COMMON_RULES}" if brand else COMMON_RULES
    return f"{shared}\n\n{spec.instructions}"


def repair_message(*, detail: str, response_format: ResponseFormat) -> str:
    """The user turn of the one repair call: the exact error, then the exact target."""
    schema = json.dumps(response_format.schema, ensure_ascii=False, separators=(",", ":"))
    return (
        "Your previous answer was rejected because it does not match the response format "
        f"`{response_format.name}`.\n\nThe validator said:\n{detail}\n\n"
        "Answer again with the same content, corrected: exactly one JSON object that "
        f"matches this JSON Schema, and nothing else.\n\n{schema}"
    )


def request_build_for(
    spec: RoleSpec, *, brand_text: str, user: str, max_tokens: int, day: dt.date
) -> ChatRequest:
    """The request for a role: shared and constant text first, the task last.

    ``day`` pins the system message's date, so the prompt prefix stays byte-identical
    (and the server's prefix cache warm) for a whole day.
    """
    return ChatRequest(
        instructions=role_instructions(spec, brand_text=brand_text),
        user=user,
        response_format=spec.response_format,
        reasoning=spec.reasoning,
        max_tokens=max_tokens,
        conversation_date=day,
    )
