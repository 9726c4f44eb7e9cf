"""The editor: sharpens existing ideas (refine, edit)."""

from __future__ import annotations

from typing import Any

from bizagent.llm.types import ResponseFormat
from goals.models import Iteration, Role, TaskKind
from goals.roles.base import (
    IDEA_TEXT_FIELDS,
    TAGS,
    RoleHandler,
    RoleSpec,
    TaskView,
    header,
    ideas_split,
    ids_text,
    join,
    section,
    task_view,
)
from goals.work import Work
from ideas.services import IdeaDataInvalid, IdeaRefused, IdeaTransitionError, idea_update

_IDEA_CHANGES = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {**IDEA_TEXT_FIELDS, "tags": TAGS},
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["edits"],
    "properties": {
        "edits": {
            "type": "array",
            "minItems": 1,
            "maxItems": 5,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["idea_id", "changes", "reason"],
                "properties": {
                    "idea_id": {"type": "integer", "minimum": 1},
                    "changes": _IDEA_CHANGES,
                    "reason": {"type": "string", "minLength": 3, "maxLength": 600},
                },
            },
        }
    },
}

INSTRUCTIONS = """\
You are the editor of an autonomous studio that develops business ideas for one brand.
You make existing ideas sharper without changing what they are.

# What you do
- For each idea named in the request, return only the fields you change: title,
  summary, target_audience, value_proposition, revenue_model or tags.
- refine: strengthen the idea on the weakness the request names (often the lowest
  score or the critic's suggestion): a sharper customer, a real price, a first channel.
- edit: fix wording: vague audiences become specific, jargon becomes plain language,
  summaries fit one line of at most 300 characters.
- Keep the idea recognisable: the same core offer for the same kind of customer. A
  different business is a new idea, not an edit.
- Give a short reason per edit; it is shown to people in the change log."""

SPEC = RoleSpec(
    name=Role.EDITOR,
    instructions=INSTRUCTIONS,
    response_format=ResponseFormat(
        name="edits",
        schema=SCHEMA,
        description="Field changes to existing ideas, each with its reason.",
    ),
    reasoning="low",
)


def editor_message(*, task: TaskView, mode: str, ideas_text: str, focus: str = "") -> str:
    """The editor's user message: the portfolio's other ideas, then the request."""
    portfolio, focus_ideas = ideas_split(ideas_text)
    notes = task.metadata.get("suggestions") or {}
    lines = [f"- #{key}: {value}" for key, value in sorted(notes.items()) if value]
    if task.kind == TaskKind.REFINE:
        ask = (
            f"REFINE ideas {ids_text(task.idea_ids)}: strengthen each on its weakest "
            "dimension (the lowest score, or the critic's suggestion below)."
        )
    else:
        ask = (
            f"EDIT ideas {ids_text(task.idea_ids)}: fix vague wording, make audiences "
            "specific, keep summaries to one line."
        )
    return join(
        section("Ideas", portfolio),
        header(task, mode, focus),
        ask,
        section("Critic's suggestions", "\n".join(lines)),
        focus_ideas,
    )


def message_build(*, work: Work, ideas_text: str) -> str:
    return editor_message(
        task=task_view(work),
        mode=work.mode,
        ideas_text=ideas_text,
        focus=work.focus,
    )


def persist(*, work: Work, iteration: Iteration, parsed: dict[str, Any]) -> dict[str, Any]:
    """Apply each edit to an idea under work, with its reason in the change log."""
    allowed = {idea.pk: idea for idea in work.focus_ideas}
    updated: list[int] = []
    ignored: list[int] = []
    refused: list[int] = []
    for edit in parsed.get("edits", []):
        idea = allowed.get(edit["idea_id"])
        if idea is None:
            ignored.append(edit["idea_id"])
            continue
        try:
            changed = idea_update(
                idea=idea, changes=edit["changes"], iteration_id=iteration.pk, reason=edit["reason"]
            )
        except IdeaRefused:
            refused.append(idea.pk)
            continue
        except (IdeaTransitionError, IdeaDataInvalid):  # archived meanwhile, or bad data
            ignored.append(idea.pk)
            continue
        if changed:
            updated.append(idea.pk)
    return {"ideas_updated": updated, "ideas_ignored": ignored, "edits_refused": refused}


def update_text(parsed: Any) -> str:
    """The editor's update as text: each edit's changed fields and its reason."""
    if not isinstance(parsed, dict):
        return ""
    parts = []
    for edit in parsed.get("edits", []):
        if isinstance(edit, dict):
            changes = edit.get("changes") or {}
            values = (
                [str(changes[name]) for name in sorted(changes)]
                if isinstance(changes, dict)
                else []
            )
            parts.append(" ".join([*values, str(edit.get("reason", ""))]))
    return "\n".join(parts)


HANDLER = RoleHandler(
    spec=SPEC,
    kinds=(TaskKind.REFINE, TaskKind.EDIT),
    message_build=message_build,
    persist=persist,
    update_text=update_text,
)
