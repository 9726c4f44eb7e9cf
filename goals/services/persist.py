"""Write what a role answered into the portfolio and the queue.

Each ``persist_<role>`` runs inside the iteration's transaction (``iteration_persist``)
and returns a small summary that is stored on the Iteration. Ideas go through
``ideas.services``, which dedupes by fingerprint and refuses taboo or illegal content;
tasks go through ``task_create``, which dedupes open work by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from goals.models import Iteration, Task, TaskKind
from goals.roles import IDEA_FIELDS, PLANNABLE_KINDS
from goals.services.queue import task_create
from ideas.models import Idea
from ideas.services import (
    IdeaDataInvalid,
    IdeaRefused,
    IdeaTransitionError,
    idea_scores_set,
    idea_update,
    idea_upsert,
)

#: Priorities of the follow-up work the loop queues by itself (the planner uses 1–100).
PRIORITY_CRITIQUE_NEW = 60
PRIORITY_REFINE = 55
PRIORITY_SHAKE_UP = 90
PRIORITY_SNAPSHOT = 100
PRIORITY_META_REVIEW = 95
PRIORITY_FALLBACK_GENERATE = 40


def _visible(theme: Any, ids: Sequence[int]) -> list[Idea]:
    if not ids:
        return []
    found = {
        idea.pk: idea
        for idea in Idea.objects.filter(
            theme=theme, pk__in=list(ids), status__in=Idea.VISIBLE_STATUSES
        )
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def persist_ideator(*, theme: Any, iteration: Iteration, parsed: dict[str, Any]) -> dict[str, Any]:
    """Upsert each proposed idea; queue a critique of the new ones."""
    created: list[Idea] = []
    existing: list[int] = []
    refused: list[str] = []
    invalid: list[str] = []
    for proposal in parsed.get("ideas", []):
        data = {name: proposal[name] for name in IDEA_FIELDS if name in proposal}
        related = [i.pk for i in _visible(theme, proposal.get("builds_on") or [])]
        if related:
            data["related_ids"] = related
        try:
            idea, was_created = idea_upsert(theme=theme, data=data, iteration_id=iteration.pk)
        except IdeaRefused:
            # ideas.services recorded the refusal (an IdeaRefusal row, in this
            # transaction); it never becomes a candidate.
            refused.append(str(data.get("title", ""))[:200])
            continue
        except IdeaDataInvalid as exc:  # raised before any write: nothing to undo
            invalid.append(f"{str(data.get('title', ''))[:100]}: {exc.messages[0]}")
            continue
        if was_created:
            created.append(idea)
        else:
            existing.append(idea.pk)
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


def persist_critic(
    *, theme: Any, iteration: Iteration, parsed: dict[str, Any], focus: Sequence[Idea]
) -> dict[str, Any]:
    """Set the scores of the ideas under review; queue a refine where the critic asks."""
    allowed = {idea.pk: idea for idea in focus}
    scored: list[int] = []
    ignored: list[int] = []
    refine: dict[int, str] = {}
    for review in parsed.get("reviews", []):
        idea = allowed.get(review["idea_id"])
        if idea is None:
            ignored.append(review["idea_id"])
            continue
        idea_scores_set(idea=idea, scores=review["scores"], iteration_id=iteration.pk)
        scored.append(idea.pk)
        if review.get("verdict") == "refine":
            refine[idea.pk] = review.get("suggestion", "")
    for pk, suggestion in refine.items():
        task_create(
            theme=theme,
            kind=TaskKind.REFINE,
            priority=PRIORITY_REFINE,
            ideas=[allowed[pk]],
            brief=suggestion[:400] or "Strengthen the weakest score.",
            dedupe_key=f"refine:{pk}",
            metadata={"suggestions": {str(pk): suggestion}},
            created_by_iteration=iteration,
        )
    ranking = [i for i in parsed.get("ranking", []) if i in allowed]
    return {
        "ideas_scored": scored,
        "ideas_ignored": ignored,
        "refine_queued": sorted(refine),
        "ranking": ranking,
    }


def persist_editor(
    *, theme: Any, iteration: Iteration, parsed: dict[str, Any], focus: Sequence[Idea]
) -> dict[str, Any]:
    """Apply each edit to an idea under work, with its reason in the change log."""
    allowed = {idea.pk: idea for idea in focus}
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


def persist_planner(*, theme: Any, iteration: Iteration, parsed: dict[str, Any]) -> dict[str, Any]:
    """Queue the planned tasks, keeping only IDs of visible ideas of this theme.

    A plan that yields no task (all IDs unknown, or an empty list) falls back to one
    generate task, so an empty queue never stays empty.
    """
    queued: list[int] = []
    for planned in parsed.get("tasks", []):
        kind = planned["kind"]
        if kind not in PLANNABLE_KINDS:
            continue
        ideas = _visible(theme, planned.get("idea_ids") or [])
        if kind != TaskKind.GENERATE and not ideas:
            continue
        key = f"{kind}:" + ",".join(str(i.pk) for i in sorted(ideas, key=lambda i: i.pk))
        task, created = task_create(
            theme=theme,
            kind=kind,
            priority=int(planned["priority"]),
            ideas=ideas,
            brief=planned.get("brief", ""),
            dedupe_key=key if ideas else "",
            created_by_iteration=iteration,
        )
        if created:
            queued.append(task.pk)
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
    return {"tasks_queued": queued}
