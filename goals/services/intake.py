"""Goals that arrive over HTTP: ``POST /api/v1/goals`` and the chat webhook.

Both run the command's flow (``goal_understand``, then ``goal_create`` + ``goal_plan``
in one transaction) so the terminal, the API and a chat tool save the same goal from
the same sentence. The model, when a gap needs it, is called by ``goal_understand``
before any transaction opens.

The webhook is idempotent per (source, message_id): chat tools deliver at least once,
so the first answer is stored in a ``GoalOrigin`` row in the same transaction as the
goal it created, and a replay returns that answer without parsing or calling anything.
Two deliveries of one message racing each other: the unique constraint lets one row
in; the loser's transaction (its goal and plan included) rolls back and it answers the
winner's stored reply.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from bizagent.llm.types import ChatClient
from decisions.actors import Actor
from goals.models import Goal, GoalOrigin
from goals.parsing import GoalParseError
from goals.planning import PlanError
from goals.services.goals import (
    GoalServiceError,
    Understanding,
    goal_create,
    goal_plan,
    goal_understand,
    understanding_draft,
)
from goals.services.plans import PlanDraft, goal_start

__all__ = [
    "Delivery",
    "Submission",
    "goal_message_receive",
    "goal_reply_text",
    "goal_save_and_start",
    "goal_submit",
]

#: What a webhook delivery answered, by outcome (stored with the first answer).
STATUS_CREATED = 201
#: Questions and unusable text are still a delivery handled: a chat tool treats a 4xx or
#: 5xx as a failed delivery and sends it again (or disables the hook), while the fix is
#: the person's next message, which the reply asks for.
STATUS_ANSWERED = 200


@dataclass(frozen=True)
class Submission:
    """What became of one sentence: the understanding, its plan and the saved goal.

    ``plan`` is None while questions are left; ``goal`` is None when nothing was saved
    (questions, or a dry run).
    """

    understanding: Understanding
    plan: dict[str, Any] | None
    goal: Goal | None
    #: The decision the plan waits for, when it crossed a policy line.
    decision_id: int | None = None
    #: Why a saved goal did not start (its plan has no action); it stays planned.
    held: str = ""

    def document(self) -> dict[str, Any]:
        """The command's ``--json`` document, with the saved goal's id when there is one."""
        document: dict[str, Any] = {"goal": self.understanding.to_json(), "plan": self.plan}
        if self.goal is not None:
            document["id"] = self.goal.pk
            document["status"] = self.goal.status
            if self.held:
                document["held"] = self.held
        return document


@dataclass(frozen=True)
class Delivery:
    """A webhook delivery's answer; ``replayed`` when it is the stored first answer."""

    origin: GoalOrigin
    replayed: bool


def goal_save_and_start(
    *, understanding: Understanding, draft: PlanDraft, today: dt.date, actor: Actor
) -> Submission:
    """Save a ready understanding and its plan, then start it (``goal_start``): active,
    or waiting for one decision. Call inside ``atomic()``; ``draft`` was made before it
    (``understanding_draft``: the model chose the workflows there)."""
    goal = goal_create(understanding=understanding, actor=actor)
    goal_plan(goal=goal, today=today, actor=actor, draft=draft)
    started = goal_start(goal_id=goal.pk, actor=actor)
    return Submission(
        understanding=understanding,
        plan=started.revision.document,
        goal=started.goal,
        decision_id=started.decision.pk if started.decision else None,
        held=started.held,
    )


def goal_submit(
    *,
    text: str,
    today: dt.date,
    dry_run: bool,
    actor: Actor,
    default_currency: str,
    client: ChatClient | None = None,
    arpu: str | None = None,
) -> Submission:
    """Understand ``text`` and, unless ``dry_run`` or questions are left, save it planned.

    ``arpu`` is a person's ARPU as typed (see ``goal_understand``). Raises
    ``GoalParseError`` (the text cannot be a goal, or the ARPU is bad) or ``PlanError`` /
    ``GoalServiceError`` (it cannot be planned); nothing is saved then.
    """
    understanding = goal_understand(
        text=text, today=today, default_currency=default_currency, client=client, arpu=arpu
    )
    if not understanding.ready:
        return Submission(understanding=understanding, plan=None, goal=None)
    draft = understanding_draft(understanding=understanding, today=today, client=client)
    if dry_run:
        return Submission(understanding=understanding, plan=draft.document, goal=None)
    with transaction.atomic():
        return goal_save_and_start(
            understanding=understanding, draft=draft, today=today, actor=actor
        )


def start_line(status: str, decision_id: int | None, held: str = "") -> str:
    """Whether a saved goal runs, waits for a person, or did not start (Japanese, then
    English)."""
    if held:
        return f"開始していません（計画のまま） / Not started, still planned: {held}"
    if decision_id is not None:
        return f"承認待ち: 判断 #{decision_id} / Waiting for decision #{decision_id}"
    return f"状態: {status} / Status: {status}"


def goal_reply_text(submission: Submission) -> str:
    """The short chat reply: what was understood (and what to confirm), or the questions.

    Japanese first, then English, as the command's summary does.
    """
    understanding = submission.understanding
    if not understanding.ready:
        lines = ["確認させてください。/ Before this goal can be saved:"]
        lines += [f"- {question.text}" for question in understanding.questions]
        return "\n".join(lines)
    goal = understanding.to_json()
    plan = submission.plan or {}
    unit = goal["currency"] or "people"
    period = goal["period"]
    lines = [
        f"目標: {goal['metric']} {goal['target_amount']} {unit} "
        f"({period['start']}〜{period['end']}), 1日 {plan.get('daily_target')}",
        f"Understood: {goal['metric']} {goal['target_amount']} {unit} from {period['start']} "
        f"to {period['end']} ({period['days']} days); {plan.get('daily_target')} a day.",
    ]
    if understanding.confirm:
        lines.append(f"Please confirm (not read from the text): {', '.join(understanding.confirm)}")
    if submission.goal is not None:
        lines.append(
            f"目標 #{submission.goal.pk} を保存しました / Saved as goal #{submission.goal.pk}"
        )
        lines.append(start_line(submission.goal.status, submission.decision_id, submission.held))
    return "\n".join(lines)


def _refusal(message: str, code: str) -> dict[str, Any]:
    return {
        "reply": f"目標として読めませんでした / This cannot be a goal: {message}",
        "goal": None,
        "plan": None,
        "id": None,
        "errors": [{"code": code, "message": message, "step": None, "path": "text"}],
    }


def goal_message_receive(
    *,
    source: str,
    message_id: str,
    text: str,
    today: dt.date,
    actor: Actor,
    default_currency: str,
    client: ChatClient | None = None,
) -> Delivery:
    """Handle one chat message once: save its goal (or ask), store and return the answer.

    A message already answered returns its stored answer (``replayed``) and nothing is
    parsed, asked or saved again.
    """
    first = GoalOrigin.objects.filter(source=source, message_id=message_id).first()
    if first is not None:
        return Delivery(origin=first, replayed=True)
    try:
        understanding = goal_understand(
            text=text, today=today, default_currency=default_currency, client=client
        )
    except GoalParseError as exc:
        return _store(
            source, message_id, None, STATUS_ANSWERED, _refusal(exc.message, exc.code), actor
        )
    if not understanding.ready:
        asked = Submission(understanding=understanding, plan=None, goal=None)
        answer = {"reply": goal_reply_text(asked), **asked.document(), "id": None}
        answer["questions"] = answer["goal"]["questions"]
        return _store(source, message_id, None, STATUS_ANSWERED, answer, actor)
    try:
        draft = understanding_draft(understanding=understanding, today=today, client=client)
        with transaction.atomic():
            saved = goal_save_and_start(
                understanding=understanding, draft=draft, today=today, actor=actor
            )
            answer = {"reply": goal_reply_text(saved), **saved.document()}
            origin = _origin_create(source, message_id, saved.goal, STATUS_CREATED, answer, actor)
    except IntegrityError:
        return _replay_after_race(source, message_id)
    except (PlanError, GoalServiceError) as exc:
        return _store(source, message_id, None, STATUS_ANSWERED, _refusal(str(exc), "PLAN"), actor)
    return Delivery(origin=origin, replayed=False)


def _origin_create(
    source: str,
    message_id: str,
    goal: Goal | None,
    status_code: int,
    answer: dict[str, Any],
    actor: Actor,
) -> GoalOrigin:
    origin = GoalOrigin(
        source=source,
        message_id=message_id,
        goal=goal,
        status_code=status_code,
        answer=answer,
        received_by=actor if actor is not None and actor.is_authenticated else None,
    )
    # No full_clean(): it would check the unique constraint with a query first, racing the
    # insert anyway; the constraint itself is the guard (IntegrityError below).
    origin.save()
    return origin


def _store(
    source: str,
    message_id: str,
    goal: Goal | None,
    status_code: int,
    answer: dict[str, Any],
    actor: Actor,
) -> Delivery:
    """Store an answer that saved no goal; a racing twin's row wins if it came first."""
    try:
        with transaction.atomic():
            origin = _origin_create(source, message_id, goal, status_code, answer, actor)
    except IntegrityError:
        return _replay_after_race(source, message_id)
    return Delivery(origin=origin, replayed=False)


def _replay_after_race(source: str, message_id: str) -> Delivery:
    # Another delivery of the same message committed first: its answer is the answer.
    return Delivery(
        origin=GoalOrigin.objects.get(source=source, message_id=message_id), replayed=True
    )
