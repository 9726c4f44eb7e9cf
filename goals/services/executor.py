"""The executor: each active goal's plan becomes the day's workflow runs.

``goals_execute_due`` is the every-minute tick (``goals.tasks.goals_execute_task``). In
one tick it

1. **follows up** started GoalRuns whose workflow run ended: succeeded or failed, with
   the run's error (redacted) and the spend, recorded once into the goal's budget;
2. **resumes** pending GoalRuns older than ``PENDING_LEASE``: a tick that wrote the row
   and died before it created the run (the row is the claim, the run comes second);
3. **starts** today's runs of at most ``GOALS_PER_TICK`` active goals whose period
   includes today, one GoalRun per plan action (``plan_current(...).document["actions"]``).

How a run is started once:

* The GoalRun row is written first (``pending``); the unique (goal, action, day,
  attempt) constraint arbitrates two executors: the loser's insert fails and it does
  nothing more for that action.
* The workflow run is then created *in the same transaction* that moves the locked row
  pending → started and stores the run on it (``run_create`` makes no network call;
  the first step is queued on commit). So a run never exists without its GoalRun
  pointing at it, and a pending row either has no run or is being started under the
  row lock right now. The run's ``subject`` is deterministic (``goals.goal_run:<id>``)
  and looked up before creating one: belt and braces should a run ever be created
  outside this path.
* Runs go to the engine's queue (django-q workers), so independent actions run in
  parallel; nothing is executed inline in the tick.

"The same action with the same parameters is not repeated within its period" (the
period of an action is its day): an action has at most one successful GoalRun per day
for given parameters. When the plan changes during the day (a newer approved revision)
and gives the action *other* parameters, it runs once more that day with them, as the
next attempt, recording the revision; the same parameters under a new revision do not
run again. A failed run (its workflow ran and failed) is retried as the next attempt
after ``RETRY_BACKOFF`` × attempt, up to ``GoalRun.MAX_ATTEMPTS``; then it stays failed
with a ``goals.goal_run_gave_up`` audit row (governance on it is the monitor's). A
GoalRun that failed before any run existed (the input did not fit the workflow) is not
retried: the same input would fail the same way. An action whose workflow has no
published version is ``skipped`` with the reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from bizagent.redact import text_redact
from decisions.models import Budget
from decisions.selectors import budget_for_scope
from decisions.services import audit_log, budget_spend_record
from goals.catalogue import CATALOGUE_DIR, CatalogueError, catalogue_load
from goals.models import CatalogueItem, Goal, GoalRun, PlanRevision
from goals.selectors import plan_current
from goals.vocabulary import currency_exponent
from workflows.errors import RunInputInvalid, WorkflowStateError
from workflows.models import Run, RunTrigger, Workflow
from workflows.services.enqueue import step_runs_enqueue
from workflows.services.runs import run_create
from workflows.services.spend import spend_currency

#: Goals whose day is started per tick. Goals without a GoalRun today come first, so a
#: backlog of more than this many goals is worked through over consecutive ticks.
GOALS_PER_TICK = 50
#: Started GoalRuns followed up per tick, and stale pending rows resumed per tick.
FOLLOW_UPS_PER_TICK = 200
#: A pending row older than this was left by a tick that died before creating its run.
PENDING_LEASE = dt.timedelta(minutes=5)
#: Attempt n + 1 waits n × this after attempt n failed.
RETRY_BACKOFF = dt.timedelta(minutes=10)
#: ``BudgetSpend.source`` of a GoalRun's spend (the reference is the GoalRun's id).
SPEND_SOURCE = "goals.goal_run"
#: Output field a workflow reports its actual sends in (``goals.sources.runs``).
SENT_FIELD = "sends"

_ENDED_OK = (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_SUCCEEDED)
_ENDED_BAD = (Run.Status.FAILED, Run.Status.CANCELLED)


@dataclass
class ExecuteReport:
    """What one tick did (ids of GoalRuns), for the task's log line and the tests."""

    started: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    succeeded: list[int] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"started {len(self.started)}, skipped {len(self.skipped)}, "
            f"succeeded {len(self.succeeded)}, failed {len(self.failed)}"
        )


def run_subject(goal_run_id: int) -> str:
    """The deterministic ``Run.subject`` of a GoalRun's workflow run."""
    return f"goals.goal_run:{goal_run_id}"


def goals_execute_due(*, now: dt.datetime | None = None) -> ExecuteReport:
    """The executor tick: follow up, resume, then start today's runs (see the module).

    Bounded (``GOALS_PER_TICK`` goals, ``FOLLOW_UPS_PER_TICK`` follow-ups and resumes)
    and idempotent: a second tick in the same minute starts nothing.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    report = ExecuteReport()
    goal_runs_follow_up(now=now, report=report)
    stale = GoalRun.objects.filter(
        status=GoalRun.Status.PENDING, created_at__lt=now - PENDING_LEASE
    ).order_by("id")
    for goal_run_id in stale.values_list("pk", flat=True)[:FOLLOW_UPS_PER_TICK]:
        goal_run_launch(goal_run_id=goal_run_id, report=report)
    ran_today = GoalRun.objects.filter(goal=OuterRef("pk"), day=today)
    goals = (
        Goal.objects.filter(
            status=Goal.Status.ACTIVE, period_start__lte=today, period_end__gte=today
        )
        .annotate(ran_today=Exists(ran_today))
        .order_by("ran_today", "id")[:GOALS_PER_TICK]
    )
    for goal in goals:
        goal_day_execute(goal=goal, day=today, now=now, report=report)
    return report


def goal_day_execute(*, goal: Goal, day: dt.date, now: dt.datetime, report: ExecuteReport) -> None:
    """Make sure each action of the goal's current plan has its GoalRun for ``day``."""
    revision = plan_current(goal_id=goal.pk)
    if revision is None:
        return
    for action in revision.document.get("actions", []):
        if not isinstance(action, dict) or not action.get("catalogue"):
            continue
        goal_run_id = goal_run_due(goal=goal, revision=revision, action=action, day=day, now=now)
        if goal_run_id is not None:
            goal_run_launch(goal_run_id=goal_run_id, report=report)


def _next_attempt(*, rows: list[GoalRun], params: dict[str, Any], now: dt.datetime) -> int | None:
    """The attempt to write for an action today, or None when nothing is due.

    ``rows`` are the action's GoalRuns of the day, newest attempt first.
    """
    if not rows:
        return 1
    latest = rows[0]
    if latest.status in (GoalRun.Status.PENDING, GoalRun.Status.STARTED):
        return None  # in flight (a stale pending row is the resume's business)
    if any(r.status == GoalRun.Status.SUCCEEDED and r.params == params for r in rows):
        return None  # done today with these parameters
    if latest.attempt >= GoalRun.MAX_ATTEMPTS:
        return None
    if latest.status == GoalRun.Status.FAILED:
        if latest.run_id is None and latest.params == params:
            return None  # failed before a run existed: the same input fails the same way
        wait = RETRY_BACKOFF * latest.attempt
        if latest.finished_at and latest.finished_at + wait > now:
            return None
        return latest.attempt + 1
    if latest.status == GoalRun.Status.SKIPPED and latest.params == params:
        return None
    # Succeeded or skipped with other parameters: the plan changed during the day.
    return latest.attempt + 1


def goal_run_due(
    *,
    goal: Goal,
    revision: PlanRevision,
    action: dict[str, Any],
    day: dt.date,
    now: dt.datetime,
) -> int | None:
    """Write the pending GoalRun for ``action`` today when one is due; returns its id.

    None when nothing is due or another executor wrote the same attempt first (the
    unique constraint decided; the loser does nothing).
    """
    key = str(action["catalogue"])
    params = action.get("params") or {}
    rows = list(GoalRun.objects.filter(goal=goal, action=key, day=day).order_by("-attempt"))
    attempt = _next_attempt(rows=rows, params=params, now=now)
    if attempt is None:
        return None
    try:
        with transaction.atomic():
            goal_run = GoalRun.objects.create(
                goal=goal,
                revision=revision,
                action=key,
                day=day,
                attempt=attempt,
                # What the plan asked (the "same parameters" rule compares these); the
                # full input the workflow got is on the run.
                params=params,
                status=GoalRun.Status.PENDING,
            )
            audit_log(
                action="goals.goal_run_pending",
                subject=goal,
                data={
                    "goal_run": goal_run.pk,
                    "action": key,
                    "day": day.isoformat(),
                    "attempt": attempt,
                    "revision": revision.number,
                },
            )
    except IntegrityError:
        return None
    return goal_run.pk


def _plan_action(goal_run: GoalRun) -> dict[str, Any]:
    """The action of the GoalRun's revision (its workflow key and parameters)."""
    for action in goal_run.revision.document.get("actions", []):
        if isinstance(action, dict) and action.get("catalogue") == goal_run.action:
            return action
    return {}


#: The inputs the executor itself fills from the goal and the day (when a workflow's
#: input schema declares them); the planner counts them as supplied.
GOAL_INPUT_NAMES = ("goal_id", "goal", "goal_text", "metric", "currency", "day", "date", "action")


def run_input_build(*, workflow: Workflow, goal: Goal, goal_run: GoalRun) -> dict[str, Any]:
    """The run's input: the action's parameters over the catalogue item's configured run
    inputs, plus what the workflow's input schema declares and the goal knows (its id,
    text, metric, currency, the day, the action).

    Only declared properties are added, so a schema that forbids extra properties still
    accepts the input; anything else it requires and nobody knows is the schema check's
    clear error (``RunInputInvalid``).
    """
    known: dict[str, Any] = {
        "goal_id": goal.pk,
        "goal": goal.text,
        "goal_text": goal.text,
        "metric": goal.metric,
        "currency": goal.currency,
        "day": goal_run.day.isoformat(),
        "date": goal_run.day.isoformat(),
        "action": goal_run.action,
    }
    # What a person configured on the catalogue item (their services' addresses, the
    # language, the product) comes next; the plan's own parameters (the volume) win.
    item = CatalogueItem.objects.filter(key=goal_run.action).only("run_inputs").first()
    configured = item.run_inputs if item is not None and isinstance(item.run_inputs, dict) else {}
    value = {**configured, **goal_run.params}
    properties = (workflow.input_schema or {}).get("properties") or {}
    for name in properties:
        if name not in value and name in known:
            value[name] = known[name]
    return value


def _close(
    *, goal_run_id: int, target: str, error: str, now: dt.datetime, report: ExecuteReport
) -> bool:
    """PENDING → SKIPPED or FAILED before any run exists, guarded and audited."""
    with transaction.atomic():
        goal_run = GoalRun.objects.select_for_update().select_related("goal").get(pk=goal_run_id)
        if not GoalRun.transition_allowed(goal_run.status, target):
            return False
        GoalRun.objects.filter(pk=goal_run_id, status=goal_run.status).update(
            status=target, error=error[:2000], finished_at=now
        )
        audit_log(
            action=f"goals.goal_run_{target}",
            subject=goal_run.goal,
            data={"goal_run": goal_run_id, "action": goal_run.action, "reason": error[:500]},
        )
    (report.skipped if target == GoalRun.Status.SKIPPED else report.failed).append(goal_run_id)
    return True


def goal_run_launch(
    *, goal_run_id: int, report: ExecuteReport, now: dt.datetime | None = None
) -> bool:
    """PENDING → STARTED: create the workflow run on the published version and queue it.

    The run is created in the transaction that locks the pending row and marks it
    started, so it is created once however many ticks try; no workflow published →
    SKIPPED with the reason; an input the workflow refuses → FAILED (not retried).
    """
    now = now or timezone.now()
    goal_run = GoalRun.objects.select_related("goal", "revision").get(pk=goal_run_id)
    if goal_run.status != GoalRun.Status.PENDING:
        return False
    action = _plan_action(goal_run)
    workflow_key = str(action.get("workflow") or "")
    if not workflow_key:
        terms = catalogue_terms(key=goal_run.action)
        workflow_key = terms.workflow if terms else ""
    workflow = (
        Workflow.objects.filter(key=workflow_key, status=Workflow.Status.PUBLISHED)
        .order_by("-version")
        .first()
    )
    if workflow is None:
        reason = f"workflow {workflow_key!r} has no published version"
        return _close(
            goal_run_id=goal_run_id,
            target=GoalRun.Status.SKIPPED,
            error=reason,
            now=now,
            report=report,
        )
    run_input = run_input_build(workflow=workflow, goal=goal_run.goal, goal_run=goal_run)
    try:
        with transaction.atomic():
            locked = GoalRun.objects.select_for_update().get(pk=goal_run_id)
            if locked.status != GoalRun.Status.PENDING:
                return False  # another tick started it while this one looked
            subject = run_subject(goal_run_id)
            run = Run.objects.filter(subject=subject).order_by("id").first()
            if run is None:
                run, step_run = run_create(
                    workflow=workflow,
                    input=run_input,
                    triggered_by=None,
                    trigger=RunTrigger.GOAL,
                    subject=subject,
                )
                step_runs_enqueue([step_run.pk])  # on commit, to the engine's workers
            GoalRun.objects.filter(pk=goal_run_id, status=GoalRun.Status.PENDING).update(
                status=GoalRun.Status.STARTED, run=run, started_at=now
            )
            audit_log(
                action="goals.goal_run_started",
                subject=goal_run.goal,
                data={
                    "goal_run": goal_run_id,
                    "action": goal_run.action,
                    "run": run.pk,
                    "workflow": workflow.key,
                    "version": workflow.version,
                    "attempt": goal_run.attempt,
                },
            )
    except (RunInputInvalid, WorkflowStateError) as exc:
        return _close(
            goal_run_id=goal_run_id,
            target=GoalRun.Status.FAILED,
            error=text_redact(f"the run could not be created: {exc}"),
            now=now,
            report=report,
        )
    report.started.append(goal_run_id)
    return True


@dataclass(frozen=True)
class CatalogueTerms:
    """What spend and launching need from a catalogue item."""

    workflow: str
    unit_cost: Decimal
    currency: str
    volume_param: str


def catalogue_terms(*, key: str) -> CatalogueTerms | None:
    """The item as a person edited it (CatalogueItem, even when disabled for the planner:
    a run already started is still costed), else the shipped JSON entry."""
    item = CatalogueItem.objects.filter(key=key).first()
    if item is not None:
        return CatalogueTerms(item.workflow, item.unit_cost, item.currency, item.volume_param)
    try:
        entries = catalogue_load(CATALOGUE_DIR)
    except CatalogueError:
        return None
    for entry in entries:
        if entry.key == key:
            return CatalogueTerms(
                entry.workflow, entry.unit_cost, entry.currency, entry.volume_param
            )
    return None


def _minor(amount: Decimal, currency: str) -> int:
    return int(amount.scaleb(currency_exponent(currency)).quantize(Decimal(1), ROUND_HALF_UP))


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return None
    return int(value)


def goal_budget(*, goal: Goal) -> tuple[Budget | None, bool]:
    """(the budget a goal's spend goes to, whether it is the goal's own).

    The goal's own active budget first; else the global one in the goal's currency.
    """
    own = budget_for_scope(scope=goal).first()
    if own is not None:
        return own, True
    return budget_for_scope(scope=None, currency=goal.currency).first(), False


@dataclass(frozen=True)
class Spend:
    """A GoalRun's spend in minor units of ``currency``: the model part, the units part."""

    currency: str
    model: int
    units: int
    units_sent: int
    left_out: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.model + self.units


def spend_compute(*, goal_run: GoalRun, run: Run, currency: str) -> Spend:
    """The run's model cost plus the catalogue unit cost × units actually sent.

    Units sent: the run output's ``sends`` count when present, else the planned volume
    for a run that succeeded (a failed run without a count is taken to have sent none).
    A part in another currency than ``currency`` is left out and named (no FX here).
    """
    left_out: list[str] = []
    model = 0
    model_cost = Decimal(run.cost or 0)
    if model_cost:
        run_currency = spend_currency()  # what the engine's step costs are in
        if run_currency == currency:
            model = _minor(model_cost, currency)
        else:
            left_out.append(f"model cost {model_cost} {run_currency}")
    terms = catalogue_terms(key=goal_run.action)
    output = run.output if isinstance(run.output, dict) else {}
    sent = _count(output.get(SENT_FIELD))
    if sent is None:
        planned = _count(goal_run.params.get(terms.volume_param)) if terms else None
        sent = (planned or 0) if run.status in _ENDED_OK else 0
    units = 0
    if terms is not None and sent and terms.unit_cost:
        if terms.currency == currency:
            units = _minor(terms.unit_cost * sent, currency)
        else:
            left_out.append(f"unit cost {terms.unit_cost} {terms.currency} × {sent}")
    return Spend(
        currency=currency, model=model, units=units, units_sent=sent, left_out=tuple(left_out)
    )


def goal_runs_follow_up(*, now: dt.datetime, report: ExecuteReport) -> None:
    """Finish started GoalRuns whose workflow run ended (bounded per tick)."""
    ended = (
        GoalRun.objects.filter(
            status=GoalRun.Status.STARTED, run__status__in=(*_ENDED_OK, *_ENDED_BAD)
        )
        .order_by("id")
        .values_list("pk", flat=True)[:FOLLOW_UPS_PER_TICK]
    )
    for goal_run_id in list(ended):
        goal_run_finish(goal_run_id=goal_run_id, now=now, report=report)


def goal_run_finish(
    *, goal_run_id: int, report: ExecuteReport, now: dt.datetime | None = None
) -> bool:
    """STARTED → SUCCEEDED or FAILED once its run ended, with the spend, audited.

    The spend goes to the goal's own budget in full; to the global budget only the
    units part, since the engine already recorded the run's model cost against the
    global budgets (``workflows.services.spend``). ``budget_spend_record`` is keyed by
    the GoalRun, and the row moves once, so the spend is recorded once.
    """
    now = now or timezone.now()
    with transaction.atomic():
        goal_run = (
            # of=self: PostgreSQL cannot lock the nullable side (run) of the outer join.
            GoalRun.objects.select_for_update(of=("self",))
            .select_related("goal", "run")
            .filter(pk=goal_run_id)
            .first()
        )
        run = goal_run.run if goal_run else None
        if goal_run is None or run is None or goal_run.status != GoalRun.Status.STARTED:
            return False
        if run.status not in (*_ENDED_OK, *_ENDED_BAD):
            return False
        ok = run.status in _ENDED_OK
        target = GoalRun.Status.SUCCEEDED if ok else GoalRun.Status.FAILED
        goal = goal_run.goal
        budget, own = goal_budget(goal=goal)
        spend = spend_compute(
            goal_run=goal_run, run=run, currency=budget.currency if budget else goal.currency
        )
        error = "" if ok else text_redact(run.error or f"the workflow run ended {run.status}")
        GoalRun.objects.filter(pk=goal_run_id, status=GoalRun.Status.STARTED).update(
            status=target, spend=spend.total, error=error[:2000], finished_at=now
        )
        audit_log(
            action=f"goals.goal_run_{target}",
            subject=goal,
            data={
                "goal_run": goal_run_id,
                "action": goal_run.action,
                "run": run.pk,
                "attempt": goal_run.attempt,
                "spend": spend.total,
                "currency": spend.currency,
                "units_sent": spend.units_sent,
                **({"left_out": list(spend.left_out)} if spend.left_out else {}),
                **({"error": error[:500]} if error else {}),
            },
        )
        recorded = spend.total if own else spend.units
        if budget is not None and recorded:
            budget_spend_record(
                budget=budget,
                amount=Decimal(recorded).scaleb(-currency_exponent(budget.currency)),
                source=SPEND_SOURCE,
                reference=f"goal_run:{goal_run_id}",
                spent_at=now,
            )
        if not ok and goal_run.attempt >= GoalRun.MAX_ATTEMPTS:
            audit_log(
                action="goals.goal_run_gave_up",
                subject=goal,
                data={
                    "goal_run": goal_run_id,
                    "action": goal_run.action,
                    "day": goal_run.day.isoformat(),
                    "attempts": goal_run.attempt,
                    "error": error[:500],
                },
            )
    (report.succeeded if ok else report.failed).append(goal_run_id)
    return True
