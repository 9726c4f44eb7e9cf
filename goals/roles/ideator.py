"""The ideator: invents new ideas (generate, shake-up)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bizagent.llm.types import ResponseFormat
from goals.conf import conf
from goals.models import Iteration, Mode, Role, TaskKind
from goals.roles.base import (
    ID_LIST,
    IDEA_FIELDS,
    IDEA_TEXT_FIELDS,
    MAX_IDEAS_PER_ANSWER,
    TAGS,
    RoleHandler,
    RoleSpec,
    TaskView,
    changes_split,
    header,
    ideas_split,
    ids_text,
    join,
    section,
    task_view,
)
from goals.selectors import ideator_text, recent_directions_split
from goals.services.persist import PRIORITY_CRITIQUE_NEW
from goals.services.queue import task_create
from goals.work import Work, epoch_start
from ideas.models import Idea
from ideas.selectors import ideas_visible
from ideas.services import IdeaDataInvalid, IdeaRefused, ideas_upsert

NEW_IDEA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [*IDEA_TEXT_FIELDS, "tags", "builds_on"],
    "properties": {**IDEA_TEXT_FIELDS, "tags": TAGS, "builds_on": ID_LIST},
}

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["direction", "ideas"],
    "properties": {
        "direction": {"type": "string", "minLength": 3, "maxLength": 300},
        "ideas": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_IDEAS_PER_ANSWER,
            "items": NEW_IDEA_SCHEMA,
        },
    },
}

INSTRUCTIONS = f"""\
You are the ideator of an autonomous studio that develops business ideas for one brand.
You invent concrete, sellable business ideas that a small team could start within a
quarter.

# What makes a good idea
- A specific customer (who pays, and who uses it when that differs), a specific problem
  they feel now, and why this brand is the one they would buy it from.
- A revenue model with a price point or a unit of sale, not "monetise later".
- A title of at most 12 words that would make sense on a list of a hundred ideas; a
  one-line summary that says what it is and for whom.
- Different from every idea listed in the request: a new customer, channel, format or
  business model, not a rewording. Near-duplicates are discarded.

# Modes
- explore: open directions the portfolio does not cover yet. Use the listed ideas only
  to know what to avoid. Leave `builds_on` empty.
- deepen: develop the listed focus ideas: stronger variants, adjacent offers, the next
  product for the same customers. Put the IDs you build on in `builds_on`.
- shake-up: the studio has been repeating itself. The request lists recent directions;
  every idea must differ from all of them in customer and in business model.

Answer with 1 to {MAX_IDEAS_PER_ANSWER} ideas, and a one-sentence `direction` naming what
this batch explores. Tags are short lowercase words (a market, a channel, a format)."""

SPEC = RoleSpec(
    name=Role.IDEATOR,
    instructions=INSTRUCTIONS,
    response_format=ResponseFormat(
        name="idea_batch",
        schema=SCHEMA,
        description="New business ideas and the direction they explore.",
    ),
)


def ideator_message(
    *,
    task: TaskView,
    mode: str,
    ideas_text: str,
    recent_directions: Sequence[str] = (),
    directions_since: Sequence[str] = (),
    off_limits: Sequence[str] = (),
    focus: str = "",
) -> str:
    """The ideator's user message, most shared first.

    Outside a shake-up: the epoch's portfolio block; the directions of the batches before
    the epoch (``recent_directions``: the same lines all epoch long); the ideas in focus,
    which for a deepen without ideas of its own are the top of the portfolio as the
    epoch's first call rendered them (``focus_per_epoch``); then the directions explored
    since the ideas above were listed (``directions_since``: they grow, by the earlier
    call's own batch at least, so they come after everything that stays put); what
    changed since (new scores, ideas new at the top), the mode's ask (its IDs are the
    focus now) and the request.

    For the model the split reads as it is: the portfolio and the focus reflect the
    batches before them, and the later directions are the ones whose ideas it may not
    see above yet (a new idea at the top is named under the changes).
    """
    ideas_text, changes = changes_split(ideas_text)
    portfolio, focus_ideas = ideas_split(ideas_text)
    if task.kind == TaskKind.SHAKE_UP:
        # The same opening as a generate's (a shake-up follows one in the same epoch):
        # the directions above are off limits too; those stagnation stored with the task
        # follow the ask, each direction once.
        listed = {*recent_directions, *directions_since}
        avoid = _lines([d for d in dict.fromkeys(off_limits) if d not in listed])
        ask = (
            "SHAKE-UP. The studio has been repeating itself. Every idea you propose must "
            "differ from all the directions listed, above and below, in customer and in "
            "business model. Do not reuse their titles, customers or formats."
        )
        return join(
            section("Ideas", portfolio),
            section("Recent directions (oldest first)", _lines(recent_directions)),
            focus_ideas,
            section(DIRECTIONS_SINCE_HEADING, _lines(directions_since)),
            changes.strip(),
            ask,
            section("Recent directions (off limits)", avoid or "- every direction listed above"),
            header(task, "shake-up", focus),
            f"Propose {MAX_IDEAS_PER_ANSWER} ideas.",
        )
    if mode == Mode.DEEPEN and task.idea_ids:
        ask = (
            f"DEEPEN. Develop the focus ideas {ids_text(task.idea_ids)}: stronger variants, "
            "adjacent offers, the next product for the same customers. Put the IDs you "
            "build on in `builds_on`."
        )
    elif mode == Mode.DEEPEN:
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
    # Oldest first. The ones before the epoch stay put all epoch long; the ones since only
    # grow (each call of the epoch adds its own), so they follow the ideas in focus, which
    # a deepen keeps for the epoch; the changes, the mode's ask and the request (the
    # task's id) differ per call.
    return join(
        section("Ideas", portfolio),
        section("Recent directions (oldest first)", _lines(recent_directions)),
        section("Ideas in focus", focus_ideas),
        section(DIRECTIONS_SINCE_HEADING, _lines(directions_since)),
        changes.strip(),
        ask,
        header(task, mode, focus),
        "Propose 3 ideas.",
    )


#: The directions of the epoch's batches, after the portfolio and the focus they postdate.
DIRECTIONS_SINCE_HEADING = "Directions explored since the ideas above were listed"


def _lines(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items)


def message_build(*, work: Work, ideas_text: str) -> str:
    limit = conf().recent_directions
    # The last ``limit`` before the epoch (the same all epoch long) and every one since
    # (a list that only grows): they include the ``limit`` most recent.
    directions, since = recent_directions_split(
        theme=work.theme, limit=limit, since=epoch_start(work.number)
    )
    # Stored with a shake-up when stagnation queued it: the directions it must avoid.
    shake_up = work.task if work.kind == TaskKind.SHAKE_UP else None
    avoid = shake_up.metadata.get("avoid", []) if shake_up is not None else []
    return ideator_message(
        task=task_view(work),
        mode=work.mode,
        ideas_text=ideas_text,
        recent_directions=directions,
        directions_since=since,
        off_limits=[str(d) for d in avoid][: limit * 2],
        focus=work.focus,
    )


def persist(*, work: Work, iteration: Iteration, parsed: dict[str, Any]) -> dict[str, Any]:
    """Upsert each proposed idea; queue a critique of the new ones."""
    theme = work.theme
    created: list[Idea] = []
    existing: list[int] = []
    refused: list[str] = []
    invalid: list[str] = []
    proposals = parsed.get("ideas", [])
    # Every ID the answer builds on, read in one query (not one per proposal).
    visible = {
        idea.pk
        for idea in ideas_visible(
            theme_id=theme.pk, ids=[pk for p in proposals for pk in p.get("builds_on") or []]
        )
    }
    datas = []
    for proposal in proposals:
        data = {name: proposal[name] for name in IDEA_FIELDS if name in proposal}
        related = [pk for pk in dict.fromkeys(proposal.get("builds_on") or []) if pk in visible]
        if related:
            data["related_ids"] = related
        datas.append(data)
    for data, outcome in zip(
        datas, ideas_upsert(theme=theme, proposals=datas, iteration_id=iteration.pk), strict=True
    ):
        if isinstance(outcome.error, IdeaRefused):
            # ideas.services recorded the refusal (an IdeaRefusal row, in this
            # transaction); it never becomes a candidate.
            refused.append(str(data.get("title", ""))[:200])
        elif isinstance(outcome.error, IdeaDataInvalid):  # nothing was written for it
            invalid.append(f"{str(data.get('title', ''))[:100]}: {outcome.error.messages[0]}")
        elif outcome.created and outcome.idea is not None:
            created.append(outcome.idea)
        elif outcome.idea is not None:
            existing.append(outcome.idea.pk)
    if created:
        task_create(
            theme=theme,
            kind=TaskKind.CRITIQUE,
            priority=PRIORITY_CRITIQUE_NEW,
            ideas=created,
            brief="Score the ideas the ideator just proposed.",
            created_by_iteration=iteration,
        )
    return {
        "ideas_created": [i.pk for i in created],
        "ideas_repeated": existing,
        "ideas_refused": refused,
        "ideas_invalid": invalid,
    }


HANDLER = RoleHandler(
    spec=SPEC,
    kinds=(TaskKind.GENERATE, TaskKind.SHAKE_UP),
    message_build=message_build,
    persist=persist,
    update_text=ideator_text,
    # A deepen without ideas of its own works on the top of the portfolio, which the
    # critic re-scores between two calls: rendered once per epoch like the planner's, what
    # moved since in a short late section. A task with ideas of its own gets them
    # (``ideas.context``: the epoch's rendering is kept only for a focus that is mostly it).
    focus_per_epoch=True,
)
