"""Goal services: understand a sentence, save it as a draft, make its first plan.

``goal_understand`` never writes: it runs the rule parser and, only when the rules left
a *gap* (no amount, no period, no metric), makes ONE structured model call (validated,
repaired once) to fill it. What the model fills is marked ``model`` and listed for
confirmation; ambiguous input (来期, several amounts) stays a question, because the
model guessing what a person meant is exactly what the rules refuse to do. A model
that fails or answers nonsense leaves the gap as a question: never a crash.

``goal_create`` and ``goal_plan`` are the only writers here, each atomic and audited.
The model is never called inside their transactions (it is called before, by
``goal_understand`` and ``understanding_draft``, which chooses the plan's workflows
through ``goals.services.plans``). A growth goal's baseline is read from snapshots.
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
from goals.models import Goal, PlanRevision
from goals.parsing import GoalParseError, ParsedGoal, Question, goal_parse
from goals.parsing.numbers import to_count, to_minor
from goals.parsing.periods import MAX_PERIOD_DAYS
from goals.parsing.result import DateWindow
from goals.planning import money_major
from goals.services.calls import role_call
from goals.services.plans import (
    PlanDraft,
    PlanFigures,
    baseline_read,
    growth_target,
    plan_prepare,
)
from goals.vocabulary import COUNT_METRICS, FieldSource, Metric

__all__ = [
    "FILLABLE_QUESTIONS",
    "GoalServiceError",
    "Understanding",
    "goal_create",
    "goal_plan",
    "goal_understand",
    "understanding_draft",
    "understanding_from_state",
    "understanding_state",
]

#: The questions the model may answer: plain gaps. Every other question (ambiguous
#: periods, several amounts, growth direction) needs the person who typed the goal.
FILLABLE_QUESTIONS = {"no_amount": "target_amount", "no_period": "period", "no_metric": "metric"}

#: Rationale of a plan made by the rules alone (the model chose nothing).
RULES_RATIONALE = "rules"

_Q_MODEL_FAILED = "model_failed"

#: The largest ARPU taken, in major units (a typo guard, like the target's).
ARPU_MAX_MAJOR = Decimal("100000000")


def arpu_parse(value: str | None, *, currency: str) -> int | None:
    """A person's ARPU ("5000", "5,000", "¥5,000") in minor units of ``currency``, or
    None for nothing given. Raises ``GoalParseError`` (code ``bad_arpu``) naming what is
    wrong: not a number, zero or negative, too many decimals, absurdly large."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip().replace(",", "").lstrip("¥$€").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise GoalParseError(
            "bad_arpu", f"ARPU must be an amount in {currency} such as 5000, got {value!s:.40}"
        )
    if amount <= 0:
        raise GoalParseError("bad_arpu", f"ARPU must be above zero, got {amount}")
    if amount > ARPU_MAX_MAJOR:
        raise GoalParseError("bad_arpu", f"ARPU of {amount} {currency} is too large")
    try:
        return to_minor(amount, currency=currency)
    except GoalParseError as exc:
        raise GoalParseError("bad_arpu", f"ARPU: {exc.message}") from None


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
    #: A growth goal's baseline revenue read from snapshots (minor units), when read.
    baseline_amount: int | None = None
    #: The ARPU a person gave (minor units); the plan uses it instead of the snapshots'.
    arpu: int | None = None

    @property
    def target_amount(self) -> int | None:
        """The absolute target: as parsed, or a growth goal's baseline × (1 + pct)."""
        parsed = self.parsed
        if parsed.target_amount is not None:
            return parsed.target_amount
        if self.baseline_amount is not None and parsed.growth_pct is not None:
            return growth_target(baseline=self.baseline_amount, growth_pct=parsed.growth_pct)
        return None

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
        """The issue's ``goal`` document, with what to confirm (and a person's ARPU)."""
        document = self.parsed.to_json()
        document["questions"] = [question.to_json() for question in self.questions]
        document["confirm"] = self.confirm
        currency = self.parsed.currency or self.default_currency
        if self.arpu is not None:
            document["arpu"] = money_major(self.arpu, currency)
        if self.baseline_amount is not None and document.get("baseline"):
            document["baseline"]["amount"] = money_major(self.baseline_amount, currency)
            if self.target_amount is not None and document.get("target_amount") is None:
                document["target_amount"] = money_major(self.target_amount, currency)
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
    arpu: str | None = None,
) -> Understanding:
    """Parse ``text``; ask the model only for plain gaps (amount, period, metric).

    Raises ``GoalParseError`` for input that cannot be a goal (empty, too long,
    negative, ...) or a bad ``arpu``. Writes nothing. ``client`` defaults to the
    configured model client, built only when a call is needed. ``arpu`` is the person's
    figure as typed (major units of the goal's currency; empty for none): recorded with
    ``fields_from`` person and used by the plan (whose ``needs`` asks for it when
    neither a person nor the snapshots give one).
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
        # person) can give: read from the snapshots, else asked, never guessed.
        read = None
        if parsed.baseline is not None:
            read = baseline_read(
                start=parsed.baseline.start,
                end=parsed.baseline.end,
                currency=parsed.currency or default_currency,
            )
        if read is not None and read[0] > 0:
            understanding = replace(understanding, baseline_amount=read[0])
        else:
            ask = Question(
                "baseline",
                "no_baseline_amount",
                "What was the revenue in the baseline window? No revenue snapshot covers "
                "it; give the target as an amount instead.",
            )
            understanding = replace(understanding, extra_questions=(ask,))
    return _arpu_settle(understanding, arpu)


def _arpu_settle(understanding: Understanding, arpu: str | None) -> Understanding:
    parsed = understanding.parsed
    if parsed.metric is None or parsed.metric in COUNT_METRICS:
        if arpu is not None and str(arpu).strip():
            raise GoalParseError("bad_arpu", "ARPU is for revenue goals; this goal counts people")
        return understanding
    currency = parsed.currency or understanding.default_currency
    given = arpu_parse(arpu, currency=currency)
    if given is None:
        return understanding
    fields_from = {**parsed.fields_from, "arpu": FieldSource.PERSON}
    return replace(understanding, parsed=replace(parsed, fields_from=fields_from), arpu=given)


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


def _budget_currency(parsed: ParsedGoal, default_currency: str) -> str:
    # Count goals have no currency of their own; budgets are in the default one.
    return parsed.currency or default_currency


def understanding_draft(
    *,
    understanding: Understanding,
    today: dt.date,
    client: ChatClient | None = None,
    use_model: bool = True,
) -> PlanDraft:
    """The plan a ready understanding gets (``plan_prepare``), writing nothing.

    Call it before any transaction: the model chooses the workflows here.
    """
    parsed = understanding.parsed
    if not understanding.ready:
        raise GoalServiceError("the goal still has questions; answer them first")
    assert parsed.metric is not None and parsed.period
    target = understanding.target_amount
    assert target is not None
    return plan_prepare(
        text=parsed.text,
        metric=parsed.metric,
        target=target,
        currency=_budget_currency(parsed, understanding.default_currency),
        start=parsed.period.start,
        end=parsed.period.end,
        today=today,
        client=client,
        use_model=use_model,
        arpu=understanding.arpu,
    )


def understanding_plan(
    *, understanding: Understanding, today: dt.date, client: ChatClient | None = None
) -> dict[str, Any]:
    """The plan document a ready understanding would get (for ``--dry-run``)."""
    return understanding_draft(understanding=understanding, today=today, client=client).document


def understanding_state(understanding: Understanding, draft: PlanDraft) -> dict[str, Any]:
    """A ready understanding and its plan as plain JSON, to carry across a confirmation
    (signed by the caller) instead of understanding and planning the sentence again."""
    parsed = understanding.parsed
    if not understanding.ready:
        raise GoalServiceError("the goal still has questions; answer them first")
    assert parsed.period is not None

    def window(value: DateWindow | None) -> list[str] | None:
        return None if value is None else [value.start.isoformat(), value.end.isoformat()]

    return {
        "text": parsed.text,
        "metric": parsed.metric,
        "target_amount": parsed.target_amount,
        "currency": parsed.currency,
        "growth_pct": None if parsed.growth_pct is None else str(parsed.growth_pct),
        "baseline": window(parsed.baseline),
        "period": window(parsed.period),
        "fields_from": {name: str(how) for name, how in parsed.fields_from.items()},
        "default_currency": understanding.default_currency,
        "model_called": understanding.model_called,
        "baseline_amount": understanding.baseline_amount,
        "arpu": understanding.arpu,
        "plan": {"document": draft.document, "author": draft.author, "rationale": draft.rationale},
    }


def understanding_from_state(state: dict[str, Any]) -> tuple[Understanding, PlanDraft]:
    """The understanding and plan ``understanding_state`` carried (already verified)."""

    def window(value: list[str] | None) -> DateWindow | None:
        if value is None:
            return None
        return DateWindow(
            start=dt.date.fromisoformat(value[0]), end=dt.date.fromisoformat(value[1])
        )

    try:
        parsed = ParsedGoal(
            text=str(state["text"]),
            metric=Metric(state["metric"]),
            target_amount=state["target_amount"],
            currency=state["currency"],
            growth_pct=None if state["growth_pct"] is None else Decimal(state["growth_pct"]),
            baseline=window(state["baseline"]),
            period=window(state["period"]),
            fields_from={name: FieldSource(how) for name, how in state["fields_from"].items()},
        )
        plan = state["plan"]
        understanding = Understanding(
            parsed=parsed,
            default_currency=str(state["default_currency"]),
            model_called=bool(state["model_called"]),
            baseline_amount=state["baseline_amount"],
            arpu=state.get("arpu"),
        )
        draft = PlanDraft(
            document=dict(plan["document"]),
            author=str(plan["author"]),
            rationale=str(plan["rationale"]),
            figures=PlanFigures(achieved=None, arpu=None),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise GoalServiceError(f"the confirmation does not hold a goal ({exc})") from None
    return understanding, draft


@transaction.atomic
def goal_create(*, understanding: Understanding, actor: Actor) -> Goal:
    """Save a ready understanding as a DRAFT goal, with how each field was obtained."""
    if not understanding.ready:
        codes = ", ".join(q.code for q in understanding.questions)
        raise GoalServiceError(f"the goal still has questions ({codes}); answer them first")
    parsed = understanding.parsed
    target = understanding.target_amount
    assert parsed.metric is not None and target is not None and parsed.period
    fields_from = {name: str(source) for name, source in parsed.fields_from.items()}
    if parsed.currency is None:
        fields_from["currency"] = FieldSource.DEFAULT.value
    goal = Goal(
        text=parsed.text,
        metric=parsed.metric,
        target_amount=target,
        baseline_amount=understanding.baseline_amount,
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
    *,
    goal: Goal,
    today: dt.date,
    actor: Actor,
    draft: PlanDraft | None = None,
) -> PlanRevision:
    """DRAFT → PLANNED with revision 1: ``draft`` (``plan_prepare``, made before the
    transaction: it may call the model), or the deterministic fallback read here.

    Guarded by ``Goal.TRANSITIONS`` under a row lock; a goal that is no longer a draft
    (planned meanwhile, cancelled) is refused with a message naming its status.
    """
    with transaction.atomic():
        locked = Goal.objects.select_for_update().get(pk=goal.pk)
        if not Goal.transition_allowed(locked.status, Goal.Status.PLANNED):
            raise GoalServiceError(
                f"goal #{locked.pk} is {locked.status}; only a draft goal gets its first plan"
            )
        if draft is None:  # no model call inside the lock: the fallback plan
            draft = plan_prepare(
                text=locked.text,
                metric=locked.metric,
                target=locked.target_amount,
                currency=locked.currency,
                start=locked.period_start,
                end=locked.period_end,
                today=today,
                use_model=False,
            )
        revision = PlanRevision(
            goal=locked,
            number=(locked.revisions.count() + 1),
            reason=PlanRevision.Reason.INITIAL,
            author=draft.author,
            document=draft.document,
            rationale=draft.rationale,
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
            data={
                "from": previous,
                "to": locked.status,
                "revision": revision.number,
                "author": revision.author,
            },
        )
    goal.status = locked.status
    return revision
