"""Goals over HTTP: ``/api/v1/goals`` (create, list, read) and the chat-tool webhook.

Mounted on the workflows app's ``NinjaAPI`` by ``GoalsConfig.ready`` (see
``goals/apps.py`` for why there and not by a registry in workflows). Thin, as the style
asks: parse the body, check the permission, call ``goals.services.intake``, render.

- ``POST /goals`` (``goals.add_goal``): 200 ``{"goal", "plan"}`` on a dry run; 201 with
  the saved goal's ``id`` and ``status`` plus the same document otherwise; 422 with the
  questions when the sentence leaves some (nothing saved); 400 ``{"errors": [...]}`` for
  a bad body or text that cannot be a goal.
- ``GET /goals`` (``goals.view_goal``): a cursor list; ``GET /goals/{id}``: the goal and
  its latest plan.
- ``POST /goals/webhook``: a bearer API token only (a chat tool has no session) whose
  user holds ``goals.add_goal``; idempotent per (source, message_id); answers a short
  ``reply`` for the chat plus the document (``replayed`` says it was the stored answer).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict, field_validator

from goals.models import Goal
from goals.parsing import GoalParseError
from goals.planning import PlanError, money_major
from goals.services.goals import GoalServiceError
from goals.services.intake import goal_message_receive, goal_submit
from goals.vocabulary import COUNT_METRICS
from workflows.api.auth import BearerTokenAuth, permission_require
from workflows.api.pagination import LIMIT_DEFAULT, LIMIT_MAX, page_of
from workflows.api.schemas import ErrorsOut
from workflows.errors import problem

__all__ = ["router"]

router = Router(tags=["goals"])

#: A chat tool's name: short and plain, so it reads well in the admin and in audit rows.
SOURCE_PATTERN = r"^[a-z][a-z0-9_.-]{0,31}$"


class _StrictIn(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


class GoalIn(_StrictIn):
    text: str = Field(description='The goal as typed, such as "1週間で200万作りたい".')
    today: str | None = Field(
        None, description="The day to plan from (YYYY-MM-DD); default: today on the server."
    )
    dry_run: bool = Field(False, description="Understand and plan; save nothing.")
    arpu: str | None = Field(
        None,
        max_length=40,
        description="What a paying customer pays a month, in major units of the goal's "
        'currency (e.g. "5000"): a revenue goal needs it when no snapshots give it.',
    )

    @field_validator("today")
    @classmethod
    def _iso_date(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                # The value is not quoted: nothing in an error echoes what was sent.
                raise ValueError("must be a date as YYYY-MM-DD") from None
        return value


class GoalWebhookIn(_StrictIn):
    text: str = Field(description="The chat message, a goal in a sentence.")
    source: str = Field(pattern=SOURCE_PATTERN, description="The chat tool: slack, telegram…")
    message_id: str = Field(
        min_length=1, max_length=200, description="The tool's id of the message (idempotency)."
    )


class GoalDocumentOut(Schema):
    goal: dict[str, Any] = Field(description="What was understood (the command's --json goal).")
    plan: dict[str, Any] | None


class GoalCreatedOut(GoalDocumentOut):
    id: int
    status: Goal.Status
    held: str = Field("", description="Why the goal did not start (its plan has no action).")


class GoalQuestionsOut(GoalDocumentOut):
    questions: list[dict[str, str]] = Field(description="What to answer; nothing was saved.")


class GoalWebhookOut(Schema):
    reply: str = Field(description="A short text for the chat: what was understood, or questions.")
    replayed: bool = Field(description="True when this delivery was answered before.")
    goal: dict[str, Any] | None = None
    plan: dict[str, Any] | None = None
    id: int | None = None
    status: str | None = None
    questions: list[dict[str, str]] = []
    errors: list[dict[str, Any]] = []


class GoalOut(Schema):
    id: int
    text: str
    metric: str
    target_amount: str = Field(description="In major units (a count for customers, trials).")
    currency: str
    growth_pct: str | None
    period_start: dt.date
    period_end: dt.date
    status: Goal.Status
    fields_from: dict[str, str]
    created_at: dt.datetime

    @staticmethod
    def resolve_target_amount(goal: Goal) -> str:
        if goal.metric in COUNT_METRICS:
            return str(goal.target_amount)
        return money_major(goal.target_amount, goal.currency)

    @staticmethod
    def resolve_growth_pct(goal: Goal) -> str | None:
        return None if goal.growth_pct is None else str(goal.growth_pct)


class GoalDetailOut(GoalOut):
    revision: int | None = Field(description="The latest plan's number; null before a plan.")
    plan: dict[str, Any] | None

    @staticmethod
    def resolve_revision(goal: Goal) -> int | None:
        latest = goal.revisions.order_by("-number").first()
        return latest.number if latest else None

    @staticmethod
    def resolve_plan(goal: Goal) -> dict[str, Any] | None:
        latest = goal.revisions.order_by("-number").first()
        return latest.document if latest else None


class GoalPage(Schema):
    data: list[GoalOut]
    next_cursor: str | None


def _refused(message: str, code: str) -> Status:
    return Status(400, {"errors": [problem(code, message, path="text")]})


@router.post(
    "/goals",
    response={200: GoalDocumentOut, 201: GoalCreatedOut, 400: ErrorsOut, 422: GoalQuestionsOut},
    summary="State a goal in a sentence: its plan (dry run), or save both",
)
def goals_create(request: HttpRequest, payload: GoalIn) -> Status:
    user = permission_require(request, "goals.add_goal")
    today = dt.date.fromisoformat(payload.today) if payload.today else timezone.localdate()
    try:
        submission = goal_submit(
            text=payload.text,
            today=today,
            dry_run=payload.dry_run,
            actor=user,
            default_currency=settings.DEFAULT_CURRENCY,
            arpu=payload.arpu,
        )
    except GoalParseError as exc:
        path = "arpu" if exc.code == "bad_arpu" else "text"
        return Status(400, {"errors": [problem(exc.code.upper(), exc.message, path=path)]})
    except (PlanError, GoalServiceError) as exc:
        return _refused(str(exc), "PLAN")
    document = submission.document()
    if not submission.understanding.ready:
        return Status(422, {**document, "questions": document["goal"]["questions"]})
    return Status(201 if submission.goal is not None else 200, document)


@router.get("/goals", response=GoalPage, summary="Goals, newest first")
def goals_list(
    request: HttpRequest,
    status: Goal.Status | None = None,
    cursor: str | None = None,
    limit: int = Query(LIMIT_DEFAULT, ge=1, le=LIMIT_MAX),
) -> dict[str, Any]:
    permission_require(request, "goals.view_goal")
    goals = Goal.objects.all()
    if status:
        goals = goals.filter(status=status)
    page, next_cursor = page_of(goals, cursor=cursor, limit=limit)
    return {"data": page, "next_cursor": next_cursor}


@router.get("/goals/{int:goal_id}", response=GoalDetailOut, summary="One goal with its latest plan")
def goals_detail(request: HttpRequest, goal_id: int) -> Goal:
    permission_require(request, "goals.view_goal")
    return Goal.objects.get(pk=goal_id)


@router.post(
    "/goals/webhook",
    auth=BearerTokenAuth(),
    response={200: GoalWebhookOut, 201: GoalWebhookOut, 400: ErrorsOut},
    summary="A goal from a chat tool (bearer token; once per source and message id)",
)
def goals_webhook(request: HttpRequest, payload: GoalWebhookIn) -> Status:
    user = permission_require(request, "goals.add_goal")
    delivery = goal_message_receive(
        source=payload.source,
        message_id=payload.message_id,
        text=payload.text,
        today=timezone.localdate(),
        actor=user,
        default_currency=settings.DEFAULT_CURRENCY,
    )
    origin = delivery.origin
    return Status(origin.status_code, {**origin.answer, "replayed": delivery.replayed})
