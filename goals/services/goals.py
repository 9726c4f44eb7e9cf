"""Goal services: understand a sentence, save it as a draft, make its first plan.

``goal_understand`` never writes: it runs the rule parser and, only when the rules left
a *gap* (no amount, no period, no metric), makes ONE structured model call (validated,
repaired once) to fill it. What the model fills is marked ``model`` and listed for
confirmation; ambiguous input (来期, several amounts) stays a question, because the
model guessing what a person meant is exactly what the rules refuse to do. A model
that fails or answers nonsense leaves the gap as a question: never a crash.

``goal_create`` and ``goal_plan`` are the only writers here, each atomic and audited.
The model is never called inside their transactions (it is called before, by
``goal_understand``). The first plan is the deterministic one: the shipped catalogue and
``plan_decompose`` (revision 1, rationale "rules"); the model chooses nothing yet.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from bizagent.llm.errors import LLMError
from bizagent.llm.types import ChatClient, ChatRequest, ResponseFormat
from decisions.actors import Actor
from decisions.services import audit_log
from goals.catalogue import catalogue_load
from goals.models import Goal, PlanRevision
from goals.parsing import GoalParseError, ParsedGoal, Question, goal_parse
from goals.parsing.numbers import to_count, to_minor
from goals.parsing.periods import MAX_PERIOD_DAYS
from goals.parsing.result import DateWindow
from goals.planning import plan_decompose
from goals.services.calls import role_call
from goals.vocabulary import COUNT_METRICS, FieldSource, Metric

__all__ = [
    "FILLABLE_QUESTIONS",
    "GoalServiceError",
    "Understanding",
    "goal_create",
    "goal_plan",
    "goal_understand",
    "plan_document",
]

#: The questions the model may answer: plain gaps. Every other question (ambiguous
#: periods, several amounts, growth direction) needs the person who typed the goal.
FILLABLE_QUESTIONS = {"no_amount": "target_amount", "no_period": "period", "no_metric": "metric"}

#: Rationale of a plan made by the rules alone (the model chose nothing).
RULES_RATIONALE = "rules"

_Q_MODEL_FAILED = "model_failed"


class GoalServiceError(ValueError):
    """A goal service refused; the message names what is wrong and is safe to show."""


@dataclass(frozen=True)
class Understanding:
    """What was understood of one sentence: the parse, with gaps the model filled.

    ``model_note`` says why the model did not fill a gap (its error class), or "".
    """

    parsed: ParsedGoal
    default_currency: str
    model_called: bool = False
    model_note: str = ""
    extra_questions: tuple[Question, ...] = field(default=())

    @property
    def questions(self) -> tuple[Question, ...]:
        return self.parsed.questions + self.extra_questions

    @property
    def ready(self) -> bool:
        """True when nothing is left to ask: the goal can be saved and planned."""
        return not self.questions

    @property
    def confirm(self) -> list[str]:
        """Fields a person must confirm before anything runs (from the model or a default)."""
        return [
            name
            for name, source in self.parsed.fields_from.items()
            if source in (FieldSource.MODEL, FieldSource.DEFAULT)
        ]

    def to_json(self) -> dict[str, Any]:
        """The issue's ``goal`` document, with what to confirm."""
        document = self.parsed.to_json()
        document["questions"] = [question.to_json() for question in self.questions]
        document["confirm"] = self.confirm
        return document


# --- understanding -------------------------------------------------------------------

_INSTRUCTIONS = (
    "You complete a business goal that a person typed. Rules already read what the text "
    "says; fill in only the fields you are asked for, and only from what the text says "
    "or clearly implies. When the text does not say, answer null: a person will be asked. "
    "Amounts are in major units of the given currency, as a plain decimal string such as "
    '"2000000". Dates are ISO (YYYY-MM-DD).'
)


def _gap_schema(fields: list[str]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    if "metric" in fields:
        properties["metric"] = {"enum": [*Metric.values, None]}
    if "target_amount" in fields:
        properties["target_amount"] = {
            "type": ["string", "null"],
            "pattern": r"^[0-9]{1,16}(\.[0-9]{1,2})?$",
        }
    if "period" in fields:
        properties["period_end"] = {
            "type": ["string", "null"],
            "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        }
    return {
        "type": "object",
        "properties": properties,
        "required": sorted(properties),
        "additionalProperties": False,
    }


def _gap_request(parsed: ParsedGoal, fields: list[str], *, today: dt.date) -> ChatRequest:
    known = parsed.to_json()
    user = (
        f"Today is {today.isoformat()}.\nThe goal as typed: {parsed.text}\n"
        f"What the rules read: metric={known['metric']}, amount={known['target_amount']}, "
        f"currency={known['currency']}, period={known['period']}.\n"
        f"Fill in: {', '.join(fields)}."
    )
    return ChatRequest(
        instructions=_INSTRUCTIONS,
        user=user,
        response_format=ResponseFormat(
            name="goal_gaps",
            schema=_gap_schema(fields),
            description="The missing fields of the goal, null where the text does not say.",
        ),
        reasoning="low",
        max_tokens=1024,
        conversation_date=today,
    )


def _fill(
    parsed: ParsedGoal, answer: dict[str, Any], fields: list[str], *, today: dt.date, currency: str
) -> ParsedGoal:
    """``parsed`` with the model's answers that pass the parser's own bounds; anything
    null or out of bounds stays a question."""
    metric, currency_now, target, period = (
        parsed.metric,
        parsed.currency,
        parsed.target_amount,
        parsed.period,
    )
    fields_from = dict(parsed.fields_from)
    filled: set[str] = set()
    if "metric" in fields and answer.get("metric") in Metric.values:
        metric = Metric(answer["metric"])
        fields_from["metric"] = FieldSource.MODEL
        filled.add("metric")
        if metric in COUNT_METRICS:
            currency_now = None
            fields_from.pop("currency", None)
        elif currency_now is None:
            currency_now = currency
            fields_from["currency"] = FieldSource.DEFAULT
    if "target_amount" in fields and isinstance(answer.get("target_amount"), str):
        try:
            value = Decimal(answer["target_amount"])
            if metric in COUNT_METRICS:
                target = to_count(value)
            elif metric is not None:
                target = to_minor(value, currency=currency_now or currency)
            else:
                raise GoalParseError("no_metric", "an amount without a metric")
        except (InvalidOperation, GoalParseError):
            pass
        else:
            fields_from["target_amount"] = FieldSource.MODEL
            filled.add("target_amount")
    if "period" in fields and isinstance(answer.get("period_end"), str):
        try:
            end = dt.date.fromisoformat(answer["period_end"])
        except ValueError:
            end = None
        if end is not None and today <= end and (end - today).days < MAX_PERIOD_DAYS:
            period = DateWindow(start=today, end=end)
            fields_from["period"] = FieldSource.MODEL
            filled.add("period")
    questions = tuple(
        q
        for q in parsed.questions
        if not (q.code in FILLABLE_QUESTIONS and FILLABLE_QUESTIONS[q.code] in filled)
    )
    return replace(
        parsed,
        metric=metric,
        currency=currency_now,
        target_amount=target,
        period=period,
        fields_from=fields_from,
        questions=questions,
        gaps=tuple(dict.fromkeys(q.field for q in questions)),
    )


def goal_understand(
    *,
    text: str,
    today: dt.date,
    default_currency: str,
    client: ChatClient | None = None,
) -> Understanding:
    """Parse ``text``; ask the model only for plain gaps (amount, period, metric).

    Raises ``GoalParseError`` for input that cannot be a goal (empty, too long,
    negative, ...). Writes nothing. ``client`` defaults to the configured model client,
    built only when a call is needed.
    """
    parsed = goal_parse(text, today=today, default_currency=default_currency)
    fields = list(
        dict.fromkeys(
            FILLABLE_QUESTIONS[q.code] for q in parsed.questions if q.code in FILLABLE_QUESTIONS
        )
    )
    understanding = Understanding(parsed=parsed, default_currency=default_currency)
    if fields:
        understanding = _model_fill(understanding, fields, today=today, client=client)
    parsed = understanding.parsed
    if parsed.metric == Metric.REVENUE_GROWTH and parsed.target_amount is None:
        # A growth target needs the baseline's revenue, which only a metric source (or a
        # person) can give; none is read yet, so it is asked, never guessed.
        ask = Question(
            "baseline",
            "no_baseline_amount",
            "What was the revenue in the baseline window? No metric source is read yet; "
            "give the target as an amount instead.",
        )
        understanding = replace(understanding, extra_questions=(ask,))
    return understanding


def _model_fill(
    understanding: Understanding,
    fields: list[str],
    *,
    today: dt.date,
    client: ChatClient | None,
) -> Understanding:
    parsed = understanding.parsed
    try:
        if client is None:
            from bizagent.llm.client import llm_client

            client = llm_client()
        outcome = role_call(client=client, request=_gap_request(parsed, fields, today=today))
    except LLMError as exc:  # a misconfigured client: the gaps stay questions
        return replace(understanding, model_called=True, model_note=exc.error_class)
    if not outcome.ok or not isinstance(outcome.result and outcome.result.parsed, dict):
        note = outcome.error_class or "no_answer"
        ask = Question(
            "model",
            _Q_MODEL_FAILED,
            f"The model could not fill in {', '.join(fields)} ({note}); please give them.",
        )
        return replace(understanding, model_called=True, model_note=note, extra_questions=(ask,))
    assert outcome.result is not None
    filled = _fill(
        parsed,
        outcome.result.parsed,
        fields,
        today=today,
        currency=understanding.default_currency,
    )
    return replace(understanding, parsed=filled, model_called=True)


# --- plan ----------------------------------------------------------------------------


def plan_document(
    *,
    metric: str,
    target: int,
    currency: str,
    start: dt.date,
    end: dt.date,
    today: dt.date,
    achieved: int | None,
    arpu: int | None,
) -> dict[str, Any]:
    """The first plan by the rules (pure: no writes), in the issue's ``plan`` shape.

    ``achieved`` None means no metric source was read: 0 is assumed, and said. An
    unknown ARPU is said too. Governance is a later step: ``decisions`` is empty.
    """
    assumptions: list[str] = []
    if achieved is None:
        assumptions.append("achieved so far is assumed to be 0 (no metric source is read yet)")
    if arpu is None and metric not in COUNT_METRICS:
        assumptions.append("ARPU is unknown (no metric source is read yet; enter one)")
    decomposition = plan_decompose(
        target=target,
        achieved=achieved or 0,
        start=start,
        end=end,
        today=today,
        arpu=arpu,
        catalogue=catalogue_load(),
        metric=metric,
        currency=currency,
    )
    document = decomposition.to_json()
    document["decisions"] = []
    document["assumptions"] = assumptions
    document["rationale"] = RULES_RATIONALE
    return document


def _budget_currency(parsed: ParsedGoal, default_currency: str) -> str:
    # Count goals have no currency of their own; budgets are in the default one.
    return parsed.currency or default_currency


def understanding_plan(
    *, understanding: Understanding, today: dt.date, achieved: int | None, arpu: int | None
) -> dict[str, Any]:
    """The plan a ready understanding would get (for ``--dry-run``), writing nothing."""
    parsed = understanding.parsed
    if not understanding.ready:
        raise GoalServiceError("the goal still has questions; answer them first")
    assert parsed.metric is not None and parsed.target_amount is not None and parsed.period
    return plan_document(
        metric=parsed.metric,
        target=parsed.target_amount,
        currency=_budget_currency(parsed, understanding.default_currency),
        start=parsed.period.start,
        end=parsed.period.end,
        today=today,
        achieved=achieved,
        arpu=arpu,
    )


@transaction.atomic
def goal_create(*, understanding: Understanding, actor: Actor) -> Goal:
    """Save a ready understanding as a DRAFT goal, with how each field was obtained."""
    if not understanding.ready:
        codes = ", ".join(q.code for q in understanding.questions)
        raise GoalServiceError(f"the goal still has questions ({codes}); answer them first")
    parsed = understanding.parsed
    assert parsed.metric is not None and parsed.target_amount is not None and parsed.period
    fields_from = {name: str(source) for name, source in parsed.fields_from.items()}
    if parsed.currency is None:
        fields_from["currency"] = FieldSource.DEFAULT.value
    goal = Goal(
        text=parsed.text,
        metric=parsed.metric,
        target_amount=parsed.target_amount,
        currency=_budget_currency(parsed, understanding.default_currency),
        growth_pct=parsed.growth_pct,
        baseline_start=parsed.baseline.start if parsed.baseline else None,
        baseline_end=parsed.baseline.end if parsed.baseline else None,
        period_start=parsed.period.start,
        period_end=parsed.period.end,
        status=Goal.Status.DRAFT,
        # An anonymous request's user is nobody; None means the system or the command line.
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        fields_from=fields_from,
    )
    goal.full_clean()
    goal.save()
    audit_log(
        action="goals.goal_created",
        actor=actor,
        subject=goal,
        data={
            "metric": goal.metric,
            "fields_from": fields_from,
            "model": understanding.model_called,
        },
    )
    return goal


def goal_plan(
    *, goal: Goal, today: dt.date, achieved: int | None, arpu: int | None, actor: Actor
) -> PlanRevision:
    """DRAFT → PLANNED with revision 1: the deterministic plan (rationale "rules").

    Guarded by ``Goal.TRANSITIONS`` under a row lock; a goal that is no longer a draft
    (planned meanwhile, cancelled) is refused with a message naming its status.
    """
    with transaction.atomic():
        locked = Goal.objects.select_for_update().get(pk=goal.pk)
        if not Goal.transition_allowed(locked.status, Goal.Status.PLANNED):
            raise GoalServiceError(
                f"goal #{locked.pk} is {locked.status}; only a draft goal gets its first plan"
            )
        document = plan_document(
            metric=locked.metric,
            target=locked.target_amount,
            currency=locked.currency,
            start=locked.period_start,
            end=locked.period_end,
            today=today,
            achieved=achieved,
            arpu=arpu,
        )
        revision = PlanRevision(
            goal=locked,
            number=(locked.revisions.count() + 1),
            reason=PlanRevision.Reason.INITIAL,
            author=PlanRevision.Author.FALLBACK,
            document=document,
            rationale=RULES_RATIONALE,
        )
        revision.full_clean()
        revision.save()
        previous = locked.status
        locked.status = Goal.Status.PLANNED
        locked.updated_at = timezone.now()
        locked.save(update_fields=["status", "updated_at"])
        audit_log(
            action="goals.goal_planned",
            actor=actor,
            subject=locked,
            data={"from": previous, "to": locked.status, "revision": revision.number},
        )
    goal.status = locked.status
    return revision
