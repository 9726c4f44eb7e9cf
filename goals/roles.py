"""The four model roles of the loop: their standing instructions and answer schemas.

Each role's ``instructions`` and ``response_format`` are constants, so the developer
message the server sees is byte-identical from one call of a role to the next (the
theme's brand text is appended by ``role_instructions`` and only changes with the
theme). Everything that varies per task goes in the user message, which Harmony puts
last; that keeps the server's prefix cache warm.

The schemas are strict (``additionalProperties: false``, bounded lengths and counts)
because a 20B model answers better against a narrow target, and because the answer is
written straight into the portfolio.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from bizagent.llm.types import ChatRequest, ReasoningLevel, ResponseFormat

PLANNER = "planner"
IDEATOR = "ideator"
CRITIC = "critic"
EDITOR = "editor"
MODEL_ROLES = (PLANNER, IDEATOR, CRITIC, EDITOR)

SCORE_NAMES = ("brand_fit", "novelty", "feasibility")
#: Task kinds the planner may queue; snapshot, meta_review and shake_up are the loop's own.
PLANNABLE_KINDS = ("generate", "refine", "compare", "critique", "edit")
MAX_IDEAS_PER_ANSWER = 5
MAX_PLANNED_TASKS = 6

_ID_LIST = {
    "type": "array",
    "items": {"type": "integer", "minimum": 1},
    "maxItems": 8,
    "uniqueItems": True,
}
_TAGS = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 40},
    "maxItems": 6,
    "uniqueItems": True,
}
_IDEA_TEXT_FIELDS: dict[str, dict[str, Any]] = {
    "title": {"type": "string", "minLength": 3, "maxLength": 120},
    "summary": {"type": "string", "minLength": 10, "maxLength": 300},
    "target_audience": {"type": "string", "minLength": 3, "maxLength": 600},
    "value_proposition": {"type": "string", "minLength": 10, "maxLength": 1200},
    "revenue_model": {"type": "string", "minLength": 3, "maxLength": 800},
}
IDEA_FIELDS = (*_IDEA_TEXT_FIELDS, "tags")

NEW_IDEA_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [*_IDEA_TEXT_FIELDS, "tags", "builds_on"],
    "properties": {**_IDEA_TEXT_FIELDS, "tags": _TAGS, "builds_on": _ID_LIST},
}

IDEATOR_SCHEMA: dict[str, Any] = {
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

_SCORE = {"type": "number", "minimum": 0, "maximum": 10}
CRITIC_SCHEMA: dict[str, Any] = {
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
                    "verdict": {"type": "string", "enum": ["keep", "refine", "archive"]},
                    "suggestion": {"type": "string", "maxLength": 600},
                },
            },
        },
        "ranking": _ID_LIST,
        "rationale": {"type": "string", "maxLength": 1200},
    },
}

_IDEA_CHANGES = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "properties": {**_IDEA_TEXT_FIELDS, "tags": _TAGS},
}
EDITOR_SCHEMA: dict[str, Any] = {
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

PLANNER_SCHEMA: dict[str, Any] = {
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
                    "kind": {"type": "string", "enum": list(PLANNABLE_KINDS)},
                    "priority": {"type": "integer", "minimum": 1, "maximum": 100},
                    "idea_ids": _ID_LIST,
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

_COMMON_RULES = """\
# Ground rules
- Work only inside the brand and project described below under "Brand and project".
  Never propose anything that touches the brand's taboos, and never anything illegal,
  violent, deceptive, discriminatory, sexual involving minors, or harmful to health.
  Such ideas are rejected by the system and count against you.
- Ideas are shown as `[#ID] Title — summary (brand_fit/novelty/feasibility)`. Refer to an
  existing idea only by its numeric ID, and only to IDs you were shown.
- Scores run from 0 to 10. A score marked `human` was set by a person: treat it as the
  truth, and learn from where it differs from the model's score.
- Think in the analysis channel. In the final channel answer with exactly one JSON
  object that matches the response format: no Markdown, no code fence, no commentary."""

PLANNER_INSTRUCTIONS = f"""\
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
When the request says META REVIEW you also get statistics computed by the system (score
means and variances, diversity, repetition, drift from the brand). Judge whether the
current explore ratio and focus still serve the brand. Set `strategy` to propose a new
explore ratio (between 0.05 and 0.95), a focus sentence, the magnitude of the change
(0 to 1: the share of the studio's effort it redirects) and your reason. Changes of 20%
or more go to a person for approval, so propose them only with evidence. Otherwise,
and always outside a meta review, set `strategy` to null.

{_COMMON_RULES}"""

IDEATOR_INSTRUCTIONS = f"""\
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
this batch explores. Tags are short lowercase words (a market, a channel, a format).

{_COMMON_RULES}"""

CRITIC_INSTRUCTIONS = f"""\
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
  `rationale`; otherwise `ranking` may be empty and `rationale` one sentence.

{_COMMON_RULES}"""

EDITOR_INSTRUCTIONS = f"""\
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
- Give a short reason per edit; it is shown to people in the change log.

{_COMMON_RULES}"""


@dataclass(frozen=True)
class RoleSpec:
    """Everything constant about one role's calls."""

    name: str
    instructions: str
    response_format: ResponseFormat
    reasoning: ReasoningLevel = "medium"


ROLE_SPECS: dict[str, RoleSpec] = {
    PLANNER: RoleSpec(
        name=PLANNER,
        instructions=PLANNER_INSTRUCTIONS,
        response_format=ResponseFormat(
            name="plan",
            schema=PLANNER_SCHEMA,
            description="The next tasks for the studio, and a strategy change or null.",
        ),
    ),
    IDEATOR: RoleSpec(
        name=IDEATOR,
        instructions=IDEATOR_INSTRUCTIONS,
        response_format=ResponseFormat(
            name="idea_batch",
            schema=IDEATOR_SCHEMA,
            description="New business ideas and the direction they explore.",
        ),
    ),
    CRITIC: RoleSpec(
        name=CRITIC,
        instructions=CRITIC_INSTRUCTIONS,
        response_format=ResponseFormat(
            name="critique",
            schema=CRITIC_SCHEMA,
            description="Scores and judgements for the ideas named in the request.",
        ),
        reasoning="medium",
    ),
    EDITOR: RoleSpec(
        name=EDITOR,
        instructions=EDITOR_INSTRUCTIONS,
        response_format=ResponseFormat(
            name="edits",
            schema=EDITOR_SCHEMA,
            description="Field changes to existing ideas, each with its reason.",
        ),
        reasoning="low",
    ),
}

#: Which role does which task kind; kinds missing here need no model call.
ROLE_FOR_KIND: dict[str, str] = {
    "generate": IDEATOR,
    "shake_up": IDEATOR,
    "critique": CRITIC,
    "compare": CRITIC,
    "refine": EDITOR,
    "edit": EDITOR,
    "meta_review": PLANNER,
}


def role_instructions(role: str, *, brand_text: str) -> str:
    """The developer instructions for ``role``: its constant part, then the brand."""
    spec = ROLE_SPECS[role]
    brand = brand_text.strip()
    if not brand:
        return spec.instructions
    return f"{spec.instructions}\n\n# Brand and project\n\n{brand}"


def repair_message(*, detail: str, response_format: ResponseFormat) -> str:
    """The user turn of the one repair call: the exact error, then the exact target."""
    schema = json.dumps(response_format.schema, ensure_ascii=False, separators=(",", ":"))
    return (
        "Your previous answer was rejected because it does not match the response format "
        f"`{response_format.name}`.\n\nThe validator said:\n{detail}\n\n"
        "Answer again with the same content, corrected: exactly one JSON object that "
        f"matches this JSON Schema, and nothing else.\n\n{schema}"
    )


def request_build(
    *,
    role: str,
    brand_text: str,
    user: str,
    max_tokens: int,
    day: dt.date,
) -> ChatRequest:
    """The request for ``role``: constant instructions and format first, the task last.

    ``day`` pins the system message's date, so the prompt prefix stays byte-identical
    (and the server's prefix cache warm) for a whole day.
    """
    spec = ROLE_SPECS[role]
    return ChatRequest(
        instructions=role_instructions(role, brand_text=brand_text),
        user=user,
        response_format=spec.response_format,
        reasoning=spec.reasoning,
        max_tokens=max_tokens,
        conversation_date=day,
    )
