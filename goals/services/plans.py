"""Plans: the figures a plan starts from, the model's choice of workflows, and the start.

Three steps, in this order, each where the style wants it:

1. ``plan_figures_read`` reads the current state from ``MetricSnapshot`` rows (a read,
   no writes). What it could not read is said in ``assumptions``.
2. ``plan_prepare`` asks the model ONE structured question, "which catalogue workflows,
   and why?", *outside* any transaction; the numbers are then ``plan_decompose``'s. An
   unreachable, refusing or still-invalid model gives the deterministic fallback plan
   (every enabled entry driving the metric, cheapest first) and a rationale saying why.
3. ``goal_start`` (PLANNED → ACTIVE or AWAITING_APPROVAL) checks the plan against every
   policy line and either starts it within the system's mandate or asks ONE decision for
   the revision. ``plan_approve`` (the decision's handler) and ``plan_decisions_settle``
   (the sweep that notices a rejected or lapsed decision: the decisions app has no
   rejection hook) finish the story.

**Sources.** One source per metric, the first in ``SOURCE_PREFERENCE`` that has a
reading in the window: a person's manual entry first (it is what a person says is
true), then Whop's API, Whop's webhooks, Sheets, workflow run outputs.

**Which figure is which.** Revenue and trials are daily flows: achieved is the sum of
the days from the period's start to yesterday (today counts as a remaining day in
``plan_decompose``: its sales are not in yet). Customers is a stock (a count on a day):
achieved is the newest count up to today minus the newest count before the period (a
customers goal counts customers gained). ARPU is the revenue of the last
``ARPU_WINDOW_DAYS`` days before today divided by the newest customer count.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from bizagent.llm.errors import LLMError
from bizagent.llm.types import ChatClient, ChatRequest, ResponseFormat
from decisions.actors import Actor
from decisions.models import Decision
from decisions.policy import ActionProposal, Verdict
from decisions.selectors import BudgetStatus, budget_for_scope, budget_status
from decisions.services import audit_log
from decisions.services.budgets import budget_create
from decisions.services.decisions import decision_request
from decisions.services.policy import policy_check
from goals.catalogue import CatalogueEntry, catalogue_load
from goals.models import CatalogueItem, Goal, MetricSnapshot, PlanRevision
from goals.planning import plan_decompose
from goals.services.calls import role_call
from goals.services.executor import GOAL_INPUT_NAMES
from goals.vocabulary import COUNT_METRICS, Metric
from workflows.models import Workflow
from workflows.selectors import hosts_published, url_host

__all__ = [
    "ARPU_WINDOW_DAYS",
    "PLAN_APPROVE_ACTION",
    "SOURCE_PREFERENCE",
    "PlanChoice",
    "PlanDraft",
    "PlanFigures",
    "PlanStartError",
    "StartOutcome",
    "goal_start",
    "plan_approve",
    "plan_choose",
    "plan_decisions_settle",
    "plan_figures_read",
    "plan_prepare",
]

Source = MetricSnapshot.Source
#: A person's entry wins; then the sources by how directly they see the money.
SOURCE_PREFERENCE = (
    Source.MANUAL,
    Source.WHOP,
    Source.WHOP_WEBHOOK,
    Source.SHEETS,
    Source.WORKFLOW_RUNS,
)
#: ARPU = revenue of the last 30 days / paying customers: a monthly ARPU, the unit a
#: subscription business prices in.
ARPU_WINDOW_DAYS = 30
#: The decision action a plan over a policy line waits on.
PLAN_APPROVE_ACTION = "goals.plan_approve"
#: The option of an over-budget plan's decision: start at the volume the budget allows.
CAPPED_OPTION = "capped"
#: Decision statuses that mean "not approved, and never will be".
_REFUSED = (
    Decision.Status.REJECTED,
    Decision.Status.EXPIRED,
    Decision.Status.CANCELLED,
    Decision.Status.SUPERSEDED,
    Decision.Status.FAILED,
)


class PlanStartError(ValueError):
    """A plan could not be started or approved; the message names why."""


# --- 1. figures -----------------------------------------------------------------------


@dataclass(frozen=True)
class PlanFigures:
    """The current state a plan starts from; None where nothing was read."""

    achieved: int | None
    arpu: int | None
    baseline_amount: int | None = None
    sources: dict[str, str] = field(default_factory=dict)
    assumptions: tuple[str, ...] = ()


def _source_for(metric: str, start: dt.date, end: dt.date, currency: str = "") -> str | None:
    """The preferred source with a reading of ``metric`` in ``start..end``, or None."""
    rows = MetricSnapshot.objects.filter(metric=metric, date__gte=start, date__lte=end)
    if currency:
        rows = rows.filter(currency=currency)
    present = set(rows.values_list("source", flat=True).distinct())
    return next((str(s) for s in SOURCE_PREFERENCE if s in present), None)


def _flow_sum(
    metric: str, start: dt.date, end: dt.date, currency: str = ""
) -> tuple[int, str] | None:
    """Sum of one source's daily values in ``start..end`` (both included), or None."""
    if end < start:
        return None
    source = _source_for(metric, start, end, currency)
    if source is None:
        return None
    rows = MetricSnapshot.objects.filter(
        source=source, metric=metric, date__gte=start, date__lte=end
    )
    if currency:
        rows = rows.filter(currency=currency)
    return sum(rows.values_list("value", flat=True)), source


def _stock_on(metric: str, *, before: dt.date) -> tuple[int, str] | None:
    """The newest reading of a stock (customers) dated before ``before``, by preference."""
    rows = MetricSnapshot.objects.filter(metric=metric, date__lt=before)
    present = set(rows.values_list("source", flat=True).distinct())
    source = next((str(s) for s in SOURCE_PREFERENCE if s in present), None)
    if source is None:
        return None
    newest = rows.filter(source=source).order_by("-date").values_list("value", flat=True).first()
    return (int(newest), source) if newest is not None else None


def baseline_read(*, start: dt.date, end: dt.date, currency: str) -> tuple[int, str] | None:
    """Revenue in a baseline window (minor units of ``currency``) and its source."""
    return _flow_sum(Metric.REVENUE, start, end, currency)


def growth_target(*, baseline: int, growth_pct: Decimal) -> int:
    """The absolute target of a growth goal: baseline × (1 + pct/100), rounded up."""
    value = Decimal(baseline) * (Decimal(1) + Decimal(growth_pct) / 100)
    return int(value.to_integral_value(ROUND_CEILING))


def plan_figures_read(
    *, metric: str, currency: str, start: dt.date, today: dt.date, arpu: int | None = None
) -> PlanFigures:
    """Achieved so far in the period and ARPU, from snapshots (see the module's rules).

    Reads only. Every figure not read is named in ``assumptions`` (the plan then assumes
    0 achieved, or leaves ARPU unknown). ``arpu`` (minor units) is a person's figure: it
    wins over the snapshots, as a manual entry does, and its source is ``person``.
    """
    sources: dict[str, str] = {}
    assumptions: list[str] = []
    yesterday = today - dt.timedelta(days=1)
    achieved: int | None = None
    if metric in (Metric.REVENUE, Metric.REVENUE_GROWTH):
        read = _flow_sum(Metric.REVENUE, start, yesterday, currency)
        if read is None:
            assumptions.append(
                f"achieved so far is assumed to be 0 (no {currency} revenue snapshot "
                f"from {start.isoformat()} to yesterday)"
            )
        else:
            achieved, sources["achieved"] = read
    elif metric == Metric.TRIALS:
        read = _flow_sum(Metric.TRIALS, start, yesterday)
        if read is None:
            assumptions.append("achieved so far is assumed to be 0 (no trials snapshot yet)")
        else:
            achieved, sources["achieved"] = read
    elif metric == Metric.CUSTOMERS:
        now_count = _stock_on(Metric.CUSTOMERS, before=today + dt.timedelta(days=1))
        before = _stock_on(Metric.CUSTOMERS, before=start)
        if now_count is None or before is None:
            assumptions.append(
                "customers gained so far are assumed to be 0 (no customers snapshot "
                "before the period and since)"
            )
        else:
            achieved = max(0, now_count[0] - before[0])
            sources["achieved"] = now_count[1]
    if arpu is not None and metric not in COUNT_METRICS:
        sources["arpu"] = "person"
    elif metric not in COUNT_METRICS:
        window_start = today - dt.timedelta(days=ARPU_WINDOW_DAYS)
        revenue = _flow_sum(Metric.REVENUE, window_start, yesterday, currency)
        customers = _stock_on(Metric.CUSTOMERS, before=today + dt.timedelta(days=1))
        if revenue is None or customers is None or customers[0] <= 0 or revenue[0] <= 0:
            assumptions.append(
                f"ARPU is unknown (needs {currency} revenue of the last {ARPU_WINDOW_DAYS} "
                "days and a customers snapshot; enter them, or give the ARPU)"
            )
        else:
            arpu = int((Decimal(revenue[0]) / customers[0]).to_integral_value(ROUND_CEILING))
            sources["arpu"] = f"{revenue[1]}/{customers[1]}"
    if metric in COUNT_METRICS:
        arpu = None  # a count goal is not valued in money
    return PlanFigures(
        achieved=achieved, arpu=arpu, sources=sources, assumptions=tuple(assumptions)
    )


# --- 2. the model's choice ------------------------------------------------------------


@dataclass(frozen=True)
class PlanChoice:
    """Which catalogue entries a plan runs, who chose them and why."""

    keys: tuple[str, ...]
    author: str
    rationale: str


@dataclass(frozen=True)
class PlanDraft:
    """A plan ready to be saved as a revision (made outside any transaction)."""

    document: dict[str, Any]
    author: str
    rationale: str
    figures: PlanFigures


_CHOICE_INSTRUCTIONS = (
    "You choose which workflows from a catalogue a business runs to reach a goal, and "
    "explain why in two or three sentences. Choose only keys from the catalogue. Do not "
    "compute volumes, costs or amounts: the system computes every number."
)


def _enabled(entries: list[CatalogueEntry]) -> list[CatalogueEntry]:
    # ``enabled`` arrives with the CatalogueItem rows; a file entry is enabled.
    return [e for e in entries if getattr(e, "enabled", True)]


def _drives(entry: CatalogueEntry, metric: str) -> bool:
    if metric in COUNT_METRICS:
        return entry.metric == metric
    return entry.metric in (Metric.REVENUE, Metric.CUSTOMERS)


def choice_schema(keys: list[str]) -> dict[str, Any]:
    """The answer's JSON Schema: known, enabled keys only (others are a violation)."""
    return {
        "type": "object",
        "properties": {
            "workflows": {
                "type": "array",
                "items": {"enum": keys},
                "minItems": 1,
                "uniqueItems": True,
            },
            "rationale": {"type": "string", "minLength": 1, "maxLength": 2000},
        },
        "required": ["rationale", "workflows"],
        "additionalProperties": False,
    }


def _choice_request(
    *, goal_text: str, metric: str, figures_text: str, entries: list[CatalogueEntry], today: dt.date
) -> ChatRequest:
    catalogue = [
        {
            "key": e.key,
            "title": e.title,
            "metric": e.metric,
            "description": e.description,
            "yield_per_unit": str(e.yield_per_unit),
            "unit": e.unit,
            "unit_cost": f"{e.unit_cost} {e.currency}",
            "max_per_day": e.max_per_day,
        }
        for e in entries
    ]
    user = (
        f"Goal: {goal_text}\nMetric: {metric}\nFigures: {figures_text}\n"
        f"Catalogue: {json.dumps(catalogue, ensure_ascii=False)}"
    )
    return ChatRequest(
        instructions=_CHOICE_INSTRUCTIONS,
        user=user,
        response_format=ResponseFormat(
            name="plan_choice",
            schema=choice_schema([e.key for e in entries]),
            description="The catalogue keys to run and why.",
        ),
        reasoning="low",
        max_tokens=1024,
        conversation_date=today,
    )


def _fallback(entries: list[CatalogueEntry], metric: str, why: str) -> PlanChoice:
    keys = tuple(e.key for e in sorted(entries, key=lambda e: e.unit_cost) if _drives(e, metric))
    return PlanChoice(
        keys=keys,
        author=PlanRevision.Author.FALLBACK,
        rationale=(
            f"Deterministic fallback plan ({why}): every enabled workflow that drives "
            f"{metric}, cheapest first."
        ),
    )


def plan_choose(
    *,
    goal_text: str,
    metric: str,
    figures_text: str,
    entries: list[CatalogueEntry],
    today: dt.date,
    client: ChatClient | None = None,
) -> PlanChoice:
    """ONE structured model call choosing catalogue entries; the fallback when it fails.

    Never called inside a transaction. An unknown or disabled key is a schema violation
    the repair call is told about; still invalid, unreachable or refusing: fallback.
    """
    enabled = _enabled(entries)
    if not enabled:
        return PlanChoice(
            keys=(),
            author=PlanRevision.Author.FALLBACK,
            rationale="No catalogue workflow is enabled: there is nothing to choose from.",
        )
    try:
        if client is None:
            from bizagent.llm.client import llm_client

            client = llm_client()
        request = _choice_request(
            goal_text=goal_text,
            metric=metric,
            figures_text=figures_text,
            entries=enabled,
            today=today,
        )
        outcome = role_call(client=client, request=request)
    except LLMError as exc:
        return _fallback(enabled, metric, f"the model is not configured: {exc.error_class}")
    answer = outcome.result.parsed if outcome.ok and outcome.result is not None else None
    if not isinstance(answer, dict):
        return _fallback(enabled, metric, f"the model failed: {outcome.error_class or 'no answer'}")
    return PlanChoice(
        keys=tuple(answer["workflows"]),
        author=PlanRevision.Author.MODEL,
        rationale=str(answer["rationale"]).strip(),
    )


def plan_prepare(
    *,
    text: str,
    metric: str,
    target: int,
    currency: str,
    start: dt.date,
    end: dt.date,
    today: dt.date,
    client: ChatClient | None = None,
    use_model: bool = True,
    arpu: int | None = None,
) -> PlanDraft:
    """Figures, the choice and the decomposition: a plan document, nothing written.

    Call it outside any transaction (it may call the model). ``use_model=False`` gives
    the deterministic fallback without a call (for a re-plan inside a lock). ``arpu``
    (minor units) is a person's figure, used instead of the snapshots'.

    Two gaps are said before anything runs, as risks: a plan with no action (nothing
    would run: ``goal_start`` then keeps the goal planned) and a chosen workflow whose
    required input neither the plan nor its catalogue item's run inputs supply.
    """
    figures = plan_figures_read(
        metric=metric, currency=currency, start=start, today=today, arpu=arpu
    )
    entries = catalogue_load()
    figures_text = (
        f"target {target}, achieved {figures.achieved if figures.achieved is not None else '?'}"
        f", ARPU {figures.arpu if figures.arpu is not None else '?'} (minor units of {currency}),"
        f" period {start.isoformat()}..{end.isoformat()}, today {today.isoformat()}"
    )
    if use_model:
        choice = plan_choose(
            goal_text=text,
            metric=metric,
            figures_text=figures_text,
            entries=entries,
            today=today,
            client=client,
        )
    else:
        choice = _fallback(_enabled(entries), metric, "no model call was made")
    chosen = [e for e in entries if e.key in set(choice.keys)]
    decomposition = plan_decompose(
        target=target,
        achieved=figures.achieved or 0,
        start=start,
        end=end,
        today=today,
        arpu=figures.arpu,
        catalogue=chosen,
        metric=metric,
        currency=currency,
    )
    document = decomposition.to_json()
    document["workflows"] = list(choice.keys)
    document["decisions"] = []
    document["assumptions"] = list(figures.assumptions)
    document["sources"] = dict(figures.sources)
    document["rationale"] = choice.rationale
    document["author"] = choice.author
    document["risks"] = [*document["risks"], *_inputs_missing_risks(document["actions"])]
    # Asked, not blocking: the goal may be saved, but a plan without actions never starts.
    document["needs"] = (
        [dict(ARPU_NEED)] if metric not in COUNT_METRICS and figures.arpu is None else []
    )
    if not document["actions"] and decomposition.remaining > 0 and decomposition.days_remaining:
        document["risks"].append(
            {"kind": NO_ACTIONS_RISK, "message": no_actions_reason(document, metric=metric)}
        )
    return PlanDraft(
        document=document, author=choice.author, rationale=choice.rationale, figures=figures
    )


#: What a money plan asks for when no ARPU is known (``needs``): without it no
#: customer-driven workflow can be valued, so the plan has nothing to run.
ARPU_NEED = {
    "field": "arpu",
    "code": "no_arpu",
    "text": "What does a paying customer pay a month (ARPU)? No revenue and customers "
    "snapshots give it, so customer-driven workflows cannot be planned: give the ARPU (the "
    'ARPU box on the confirm page, --arpu, or "arpu" in the API body) or connect Whop. '
    "Without it the goal can be saved but does not start.",
}
#: The risk a plan carries when nothing in it would run (it does not start).
NO_ACTIONS_RISK = "no_actions"
#: The risk of a workflow input nobody supplies (its runs would fail).
MISSING_INPUTS_RISK = "missing_inputs"


def no_actions_reason(document: dict[str, Any], *, metric: str) -> str:
    """Why a plan has no action, as a person can act on it."""
    kinds = {risk.get("kind") for risk in document.get("risks") or []}
    if "no_arpu" in kinds:
        return (
            "Nothing would run: no ARPU is known, so customer-driven workflows cannot be "
            "valued. Give the ARPU (what a paying customer pays a month) or connect Whop; "
            "the goal stays planned until its plan has an action."
        )
    return (
        f"Nothing would run: no enabled catalogue workflow drives {metric} in this plan. "
        "Enable or add one in the catalogue; the goal stays planned until its plan has an "
        "action."
    )


def _inputs_missing_risks(actions: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One risk per chosen workflow whose required inputs nobody supplies: not the
    plan's params, not the catalogue item's run inputs, not what the executor adds."""
    risks: list[dict[str, str]] = []
    keys = [str(a.get("catalogue") or "") for a in actions]
    configured = dict(CatalogueItem.objects.filter(key__in=keys).values_list("key", "run_inputs"))
    for action in actions:
        workflow = (
            Workflow.objects.filter(key=action["workflow"])
            .order_by("-version")
            .only("input_schema")
            .first()
        )
        if workflow is None:
            continue  # not installed: governance asks about an unpublished workflow
        schema = workflow.input_schema or {}
        required = [str(name) for name in schema.get("required") or []]
        given = set(action.get("params") or {}) | set(GOAL_INPUT_NAMES)
        run_inputs = configured.get(str(action.get("catalogue") or ""))
        if isinstance(run_inputs, dict):
            given |= set(run_inputs)
        missing = [name for name in required if name not in given]
        if missing:
            risks.append(
                {
                    "kind": MISSING_INPUTS_RISK,
                    "message": (
                        f"{action['workflow']} needs {', '.join(missing)}, which neither the "
                        f"plan nor the catalogue item {action.get('catalogue')!r} supplies: "
                        "set them in its run inputs (admin → Catalogue items) or its runs "
                        "will fail."
                    ),
                }
            )
    return risks


# --- 3. governance and start ----------------------------------------------------------


@dataclass(frozen=True)
class StartOutcome:
    goal: Goal
    revision: PlanRevision
    decision: Decision | None
    #: Why the plan did not start (it has no action): the goal stays planned.
    held: str = ""

    @property
    def waiting(self) -> bool:
        return self.decision is not None


def _sending(action: dict[str, Any]) -> bool:
    """An action whose volume is messages sent to people (a mass-send candidate)."""
    return "send" in next(iter(action.get("params") or {"": 0}), "")


def _budget_status_for(goal: Goal, now: dt.datetime) -> BudgetStatus | None:
    """The budget a goal's plan is checked against: its own, else the global one."""
    budget = (
        budget_for_scope(scope=goal, currency=goal.currency).first()
        or budget_for_scope(scope=None, currency=goal.currency).first()
    )
    return None if budget is None else budget_status(budget=budget, now=now)


def _like(value: Decimal, example: str) -> str:
    """``value`` with as many decimals as ``example`` (a document figure) has."""
    places = max(0, -int(Decimal(example).as_tuple().exponent))
    return f"{value.quantize(Decimal(1).scaleb(-places), ROUND_FLOOR):.{places}f}"


def plan_capped(document: dict[str, Any], *, available: Decimal) -> dict[str, Any]:
    """``document`` with every volume scaled down so its estimate fits ``available``.

    Volumes are rounded down (a capped plan must not overspend by rounding); costs and
    expected values scale with them. Pure: the figures are a new document.
    """
    estimate = Decimal(document.get("budget_estimate") or "0")
    if estimate <= 0 or estimate <= available:
        return dict(document)
    factor = max(Decimal(0), available) / estimate
    days = int(document.get("days_remaining") or 0)
    actions, total = [], Decimal(0)
    for action in document.get("actions") or []:
        old = int(action["per_day"])
        new = int((old * factor).to_integral_value(ROUND_FLOOR))
        ratio = Decimal(new) / old if old else Decimal(0)
        cost_per_day = Decimal(action["cost_per_day"]) * ratio
        total += cost_per_day * days
        actions.append(
            {
                **action,
                "params": {name: new for name in action.get("params") or {}},
                "per_day": new,
                "expected": _like(Decimal(action["expected"]) * ratio, action["expected"]),
                "cost_per_day": _like(cost_per_day, action["cost_per_day"]),
                "cost": _like(cost_per_day * days, action["cost"]),
            }
        )
    message = (
        f"volumes capped to the budget ({document['budget_estimate']} asked, {available} left)"
    )
    return {
        **document,
        "actions": actions,
        "budget_estimate": _like(total, document["budget_estimate"]),
        "risks": [*document.get("risks", []), {"kind": "capacity", "message": message}],
    }


def _policy_lines(goal: Goal, document: dict[str, Any], now: dt.datetime) -> list[Verdict]:
    """Every policy line the plan crosses, each as ``policy_check``'s verdict."""
    verdicts: list[Verdict] = []
    estimate = Decimal(document.get("budget_estimate") or "0")
    status = _budget_status_for(goal, now)
    if status is not None:
        limit = status.limit
        planned = status.spent + estimate
        overrun = float(planned / limit - 1) if limit else (1.0 if planned else 0.0)
        verdicts.append(
            policy_check(
                proposal=ActionProposal(
                    kind="run_workflow", summary="plan budget", overrun_fraction=overrun
                )
            )
        )
    actions = document.get("actions") or []
    keys = [a["workflow"] for a in actions]
    published = set(
        Workflow.objects.filter(key__in=keys, status=Workflow.Status.PUBLISHED).values_list(
            "key", flat=True
        )
    )
    for key in keys:
        if key not in published:
            verdicts.append(policy_check(proposal=ActionProposal(kind="new_workflow", summary=key)))
    new_hosts = plan_hosts_new(document)
    if new_hosts:
        verdicts.append(
            policy_check(
                proposal=ActionProposal(
                    kind="new_integration",
                    summary="the plan's runs call " + ", ".join(new_hosts),
                    extra={"new_hosts": new_hosts},
                )
            )
        )
    days = int(document.get("days_remaining") or 0)
    # Mass send: the plan's whole volume (per day × remaining days), since every
    # recipient of the plan is written to because of this one approval.
    recipients = sum(int(a["per_day"]) * days for a in actions if _sending(a))
    if recipients:
        verdicts.append(
            policy_check(proposal=ActionProposal(kind="mass_send", recipients=recipients))
        )
    verdicts.append(policy_check(proposal=ActionProposal(kind="run_workflow", summary="plan")))
    return [v for v in verdicts if v.requires_decision]


def plan_hosts(document: dict[str, Any]) -> list[str]:
    """The hosts the plan's runs will call: those in its catalogue items' run inputs.

    The catalogue workflows take their addresses from their input (a person's own
    services, set once on the item), so which services a plan integrates with is known
    only here, not when the workflow was published (its steps' hosts are templates).
    """
    keys = [a.get("catalogue") for a in document.get("actions") or [] if a.get("catalogue")]
    hosts: set[str] = set()
    for inputs in CatalogueItem.objects.filter(key__in=keys).values_list("run_inputs", flat=True):
        for value in (inputs or {}).values():
            if isinstance(value, str) and "://" in value:
                host = url_host(value)
                if host is not None:
                    hosts.add(host)
    return sorted(hosts)


def integration_hosts_approved() -> set[str]:
    """Hosts a person already approved: fixed hosts of published workflow steps, and the
    hosts of plans a person approved (recorded on the revision when it asked)."""
    approved = set(hosts_published())
    documents = PlanRevision.objects.filter(approved_by__isnull=False).values_list(
        "document", flat=True
    )
    for document in documents:
        approved.update(h for h in (document or {}).get("hosts", []) if isinstance(h, str))
    return approved


def plan_hosts_new(document: dict[str, Any]) -> list[str]:
    """The plan's hosts no person has approved yet: a new integration asks first."""
    return sorted(set(plan_hosts(document)) - integration_hosts_approved())


def _goal_budget_ensure(goal: Goal, document: dict[str, Any], actor: Actor) -> None:
    """A goal-scoped budget for the executor's spend, when the goal has none."""
    if budget_for_scope(scope=goal).exists():
        return
    budget_create(
        name=f"Goal #{goal.pk}"[:200],
        limit=Decimal(document.get("budget_estimate") or "0"),
        period="monthly",
        currency=goal.currency,
        scope=goal,
        actor=actor,
    )


def _activate(goal: Goal, revision: PlanRevision, *, approver: Actor, now: dt.datetime) -> None:
    revision.approved_at = now
    revision.approved_by = approver if approver is not None and approver.is_authenticated else None
    revision.save(update_fields=["approved_at", "approved_by"])
    goal.status = Goal.Status.ACTIVE
    goal.save(update_fields=["status", "updated_at"])
    _goal_budget_ensure(goal, revision.document, approver)


def goal_start(*, goal_id: int, actor: Actor, now: dt.datetime | None = None) -> StartOutcome:
    """PLANNED → ACTIVE (within policy) or AWAITING_APPROVAL (one decision asked).

    Under the goal's row lock: the newest revision is checked against each policy line
    (budget, unpublished workflow, a new integration — a host in the chosen items' run
    inputs nobody approved — mass send, automatic execution off); crossing any
    asks ONE decision for the revision (``goals.plan_approve``), recorded on the revision
    and in its document's ``decisions``. Within policy the revision is approved by the
    system's mandate (no approver) and the goal is active at once, with a goal budget.
    A plan with no action never starts: the goal stays PLANNED and ``held`` says why.
    With no budget at all (neither the goal's nor a global one in its currency) the
    budget line has nothing to be over.
    """
    now = now or timezone.now()
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal_id)
        if goal.status != Goal.Status.PLANNED:
            raise PlanStartError(f"goal #{goal.pk} is {goal.status}; only a planned goal starts")
        revision = goal.revisions.order_by("-number").first()
        if revision is None:
            raise PlanStartError(f"goal #{goal.pk} has no plan")
        if not revision.document.get("actions"):
            return _hold(goal, revision, actor=actor)
        crossed = _policy_lines(goal, revision.document, now)
        decision: Decision | None = None
        if crossed:
            decision = _ask(goal, revision, crossed, actor=actor, now=now)
            revision.decision_id = decision.pk
            revision.document = {
                **revision.document,
                # What the person approves includes where the runs go.
                "hosts": plan_hosts(revision.document),
                "decisions": [
                    {"id": decision.pk, "kind": v.decision_kind, "rule": v.rule, "reason": v.reason}
                    for v in crossed
                ],
            }
            revision.save(update_fields=["decision_id", "document"])
            goal.status = Goal.Status.AWAITING_APPROVAL
            goal.save(update_fields=["status", "updated_at"])
        else:
            _activate(goal, revision, approver=None, now=now)
        audit_log(
            action="goals.plan_started" if decision is None else "goals.plan_awaiting",
            actor=actor,
            subject=goal,
            data={
                "from": Goal.Status.PLANNED,
                "to": goal.status,
                "revision": revision.number,
                "decision": decision.pk if decision else None,
                "rules": [v.rule for v in crossed],
            },
        )
    return StartOutcome(goal=goal, revision=revision, decision=decision)


def _hold(goal: Goal, revision: PlanRevision, *, actor: Actor) -> StartOutcome:
    """A plan with nothing to run does not start: the goal stays PLANNED and the plan
    says why (a ``no_actions`` risk the goal page shows), audited. Not a decision: there
    is nothing to approve; what is missing is a figure (the ARPU) or a workflow."""
    reason = no_actions_reason(revision.document, metric=goal.metric)
    risks = [r for r in revision.document.get("risks") or [] if r.get("kind") != NO_ACTIONS_RISK]
    revision.document = {
        **revision.document,
        "risks": [*risks, {"kind": NO_ACTIONS_RISK, "message": reason}],
    }
    revision.save(update_fields=["document"])
    audit_log(
        action="goals.plan_held",
        actor=actor,
        subject=goal,
        data={"status": goal.status, "revision": revision.number, "reason": reason},
    )
    return StartOutcome(goal=goal, revision=revision, decision=None, held=reason)


_KIND_ORDER = ("budget_overrun", "new_workflow", "new_integration", "mass_send")


def _ask(
    goal: Goal, revision: PlanRevision, crossed: list[Verdict], *, actor: Actor, now: dt.datetime
) -> Decision:
    kinds = [v.decision_kind for v in crossed]
    kind = next((k for k in _KIND_ORDER if k in kinds), "other")
    document = revision.document
    unit = goal.currency
    reasons = "; ".join(dict.fromkeys(v.reason for v in crossed))
    period = f"{goal.period_start.isoformat()} to {goal.period_end.isoformat()}"
    new_hosts = plan_hosts_new(document)
    hosts_line = f"\nNew services its runs call: {', '.join(new_hosts)}." if new_hosts else ""
    return decision_request(
        kind=kind,
        title=f"Start the plan for goal #{goal.pk}?"[:200],
        situation=(
            f"Goal: {goal.text[:500]}\nPlan r{revision.number}: "
            f"{', '.join(a['workflow'] for a in document.get('actions', [])) or 'no workflow'}."
            f"\nWhy a person is asked: {reasons}.{hosts_line}"
        ),
        options=[
            {
                "key": "approve",
                "label": "Start the plan",
                "impact": f"Spends up to {document.get('budget_estimate')} {unit} by {period}.",
                "recommended": True,
            },
            *(
                [
                    {
                        "key": CAPPED_OPTION,
                        "label": "Start at the volume the budget allows",
                        "impact": "Every volume is scaled down to the budget left; a new "
                        "plan revision records it.",
                    }
                ]
                if "budget_overrun" in kinds
                else []
            ),
            {
                "key": "reject",
                "label": "Do not start; re-plan",
                "impact": "Nothing runs; the goal goes back to planned.",
            },
        ],
        action=PLAN_APPROVE_ACTION,
        action_args={"revision_id": revision.pk},
        impact=(
            f"Budget estimate {document.get('budget_estimate')} {unit}; daily target "
            f"{document.get('daily_target')}; {document.get('days_remaining')} days left."
        ),
        subject=goal,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        now=now,
    )


def plan_approve(
    *, revision_id: int, decision: Decision, now: dt.datetime | None = None
) -> PlanRevision:
    """The approved decision's plan starts: stamp the approver, the goal goes ACTIVE.

    Safe to run twice (the second finds the revision approved and changes nothing): two
    approvals racing make one transition and one audit row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        revision = PlanRevision.objects.select_for_update().get(pk=revision_id)
        goal = Goal.objects.select_for_update().get(pk=revision.goal_id)
        approved = (
            goal.revisions.filter(decision_id=decision.pk, approved_at__isnull=False)
            .order_by("-number")
            .first()
        )
        if approved is not None:  # approved already (this revision, or its capped one)
            return approved
        if revision.decision_id != decision.pk:
            raise PlanStartError(
                f"plan r{revision.number} waits on decision #{revision.decision_id}, "
                f"not #{decision.pk}"
            )
        if not Goal.transition_allowed(goal.status, Goal.Status.ACTIVE):
            raise PlanStartError(f"goal #{goal.pk} is {goal.status}; it cannot become active")
        previous = goal.status
        approver = decision.decided_by
        if decision.chosen_option == CAPPED_OPTION:
            revision = _capped_revision(goal, revision, decision=decision, now=now)
        _activate(goal, revision, approver=approver, now=now)
        audit_log(
            action="goals.plan_approved",
            actor=approver,
            subject=goal,
            data={
                "from": previous,
                "to": goal.status,
                "revision": revision.number,
                "decision": decision.pk,
            },
        )
    return revision


def _capped_revision(
    goal: Goal, asked: PlanRevision, *, decision: Decision, now: dt.datetime
) -> PlanRevision:
    """A new revision of ``asked`` at the volume the budget left allows (numbers are
    never edited in place); the person who chose it is its author."""
    status = _budget_status_for(goal, now)
    available = status.limit - status.spent if status is not None else Decimal("Infinity")
    revision = PlanRevision(
        goal=goal,
        number=(goal.revisions.count() + 1),
        reason=PlanRevision.Reason.ADJUSTMENT,
        author=PlanRevision.Author.PERSON,
        document=plan_capped(asked.document, available=available),
        rationale=f"Capped to the budget by decision #{decision.pk} (plan r{asked.number}).",
        decision_id=decision.pk,
    )
    revision.full_clean()
    revision.save()
    return revision


def plan_approve_premise(args: dict[str, Any]) -> str | None:
    """Why approving no longer makes sense (the goal moved on), or None."""
    revisions = PlanRevision.objects.select_related("goal")
    revision = revisions.filter(pk=int(args.get("revision_id") or 0)).first()
    if revision is None:
        return "the plan revision no longer exists"
    if revision.approved_at is None and revision.goal.status != Goal.Status.AWAITING_APPROVAL:
        return f"the goal is {revision.goal.status}, not awaiting approval"
    return None


def plan_decisions_settle(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Goals waiting on a decision that ended without approval go back to PLANNED.

    The decisions app tells no one of a rejection or expiry, so this sweep (a schedule)
    looks; bounded by ``limit`` goals a tick, each moved under its row lock and audited.
    """
    now = now or timezone.now()
    waiting = list(
        Goal.objects.filter(status=Goal.Status.AWAITING_APPROVAL)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    moved = 0
    for goal_id in waiting:
        with transaction.atomic():
            goal = Goal.objects.select_for_update().get(pk=goal_id)
            revision = goal.revisions.order_by("-number").first()
            if goal.status != Goal.Status.AWAITING_APPROVAL or revision is None:
                continue
            decision = (
                Decision.objects.filter(pk=revision.decision_id).first()
                if revision.decision_id is not None
                else None
            )
            if decision is None or decision.status not in _REFUSED:
                continue
            goal.status = Goal.Status.PLANNED
            goal.save(update_fields=["status", "updated_at"])
            audit_log(
                action="goals.plan_refused",
                actor=decision.decided_by,
                subject=goal,
                data={
                    "from": Goal.Status.AWAITING_APPROVAL,
                    "to": Goal.Status.PLANNED,
                    "revision": revision.number,
                    "decision": decision.pk,
                    "decision_status": decision.status,
                },
            )
            moved += 1
    return moved
