"""The critic: scores and judges ideas (critique, compare)."""

from __future__ import annotations

from typing import Any

from bizagent.llm.types import ResponseFormat
from goals.models import Iteration, Role, TaskKind
from goals.roles.base import (
    ID_LIST,
    SCORE_NAMES,
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
from goals.services.persist import PRIORITY_REFINE
from goals.services.queue import TaskSpec, tasks_create
from goals.work import Work
from ideas.models import Idea
from ideas.services import ideas_scores_set

_SCORE = {"type": "number", "minimum": 0, "maximum": 10}
VERDICTS = ("keep", "refine", "archive")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["reviews", "ranking", "rationale"],
    "properties": {
        "reviews": {
            "type": "array",
            "minItems": 1,
            "maxItems": 8,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "idea_id",
                    "scores",
                    "strengths",
                    "weaknesses",
                    "verdict",
                    "suggestion",
                ],
                "properties": {
                    "idea_id": {"type": "integer", "minimum": 1},
                    "scores": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": list(SCORE_NAMES),
                        "properties": {name: _SCORE for name in SCORE_NAMES},
                    },
                    "strengths": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 300},
                        "maxItems": 4,
                    },
                    "weaknesses": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": 300},
                        "maxItems": 4,
                    },
                    "verdict": {"type": "string", "enum": list(VERDICTS)},
                    "suggestion": {"type": "string", "maxLength": 600},
                },
            },
        },
        "ranking": ID_LIST,
        "rationale": {"type": "string", "maxLength": 1200},
    },
}

INSTRUCTIONS = """\
You are the critic of an autonomous studio that develops business ideas for one brand.
You score ideas honestly so the studio spends its effort on the right ones.

# Scores (0 to 10, decimals allowed)
- brand_fit: would the brand's fans recognise this as the brand? 10 = unmistakably the
  brand's essence and promise; 0 = could carry any logo or works against the brand.
- novelty: 10 = nothing like it on the market or in the portfolio; 5 = a known model
  with a real twist; 0 = a copy.
- feasibility: 10 = a small team can launch it in weeks with the brand's assets; 5 =
  needs partners or months; 0 = needs capital, licences or technology out of reach.

# How to judge
- Review every idea named in the request, by ID. Give up to four concrete strengths and
  weaknesses each, a verdict (keep, refine or archive) and one suggestion that would
  raise the weakest score.
- Be calibrated: most ideas are between 3 and 7; reserve 9 and 10 for exceptional cases.
  Where a person has corrected scores before, align your scale with theirs.
- For a comparison, also fill `ranking` with the IDs from best to worst and explain it in
  `rationale`; otherwise `ranking` may be empty and `rationale` one sentence."""

SPEC = RoleSpec(
    name=Role.CRITIC,
    instructions=INSTRUCTIONS,
    response_format=ResponseFormat(
        name="critique",
        schema=SCHEMA,
        description="Scores and judgements for the ideas named in the request.",
    ),
    reasoning="medium",
)


#: What every critic call asks, whatever its kind: first in the user message, so
#: consecutive calls share it (the kind, the IDs and the ideas come after the request).
ASK = (
    "Review every idea the request names, by its ID: its scores, up to four strengths "
    "and weaknesses, a verdict and one suggestion."
)


def critic_message(*, task: TaskView, mode: str, ideas_text: str, focus: str = "") -> str:
    """The critic's user message: what every critic call asks, the portfolio's ideas (the
    epoch's block), then the request, its kind's ask and the ideas under review."""
    portfolio, focus_ideas = ideas_split(ideas_text)
    if task.kind == TaskKind.COMPARE:
        ask = (
            f"COMPARE ideas {ids_text(task.idea_ids)}: rank them from best to worst in "
            "`ranking` and explain the order in `rationale`."
        )
    else:
        ask = f"CRITIQUE ideas {ids_text(task.idea_ids)}. `ranking` may be empty."
    return join(ASK, section("Ideas", portfolio), header(task, mode, focus), ask, focus_ideas)


def message_build(*, work: Work, ideas_text: str) -> str:
    return critic_message(
        task=task_view(work),
        mode=work.mode,
        ideas_text=ideas_text,
        focus=work.focus,
    )


def persist(*, work: Work, iteration: Iteration, parsed: dict[str, Any]) -> dict[str, Any]:
    """Set the scores of the ideas under review; queue a refine where the critic asks."""
    allowed = {idea.pk: idea for idea in work.focus_ideas}
    scored: list[int] = []
    ignored: list[int] = []
    refine: dict[int, str] = {}
    wanted: dict[Idea, dict[str, Any]] = {}
    for review in parsed.get("reviews", []):
        idea = allowed.get(review["idea_id"])
        if idea is None:
            ignored.append(review["idea_id"])
            continue
        wanted[idea] = review["scores"]
        scored.append(idea.pk)
        if review.get("verdict") == "refine":
            refine[idea.pk] = review.get("suggestion", "")
    # All the reviews' scores in one write (a repeated review of an idea: the last wins).
    ideas_scores_set(scores=wanted, iteration_id=iteration.pk)
    tasks_create(
        theme=work.theme,
        specs=[
            TaskSpec(
                kind=TaskKind.REFINE,
                priority=PRIORITY_REFINE,
                ideas=(allowed[pk],),
                brief=suggestion[:400] or "Strengthen the weakest score.",
                dedupe_key=f"refine:{pk}",
                metadata={"suggestions": {str(pk): suggestion}},
            )
            for pk, suggestion in refine.items()
        ],
        created_by_iteration=iteration,
    )
    ranking = [i for i in parsed.get("ranking", []) if i in allowed]
    return {
        "ideas_scored": scored,
        "ideas_ignored": ignored,
        "refine_queued": sorted(refine),
        "ranking": ranking,
    }


def update_text(parsed: Any) -> str:
    """The critic's update as text: each review's verdict, suggestion and judgements."""
    if not isinstance(parsed, dict):
        return ""
    parts = [str(parsed.get("rationale", ""))]
    for review in parsed.get("reviews", []):
        if isinstance(review, dict):
            parts.append(
                " ".join(
                    [
                        str(review.get("verdict", "")),
                        str(review.get("suggestion", "")),
                        *map(str, review.get("strengths", [])),
                        *map(str, review.get("weaknesses", [])),
                    ]
                )
            )
    return "\n".join(parts)


HANDLER = RoleHandler(
    spec=SPEC,
    kinds=(TaskKind.CRITIQUE, TaskKind.COMPARE),
    message_build=message_build,
    persist=persist,
    update_text=update_text,
)
