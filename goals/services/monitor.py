"""The monitor: a goal's progress and forecast, its anomalies, volume adjustments, closing.

``goals_monitor_due`` (the django-q2 tick) takes yesterday's snapshots once per source and
day, then runs ``goal_monitor`` for each active goal, each in its own transactions, so
one goal's failure does not stop the others.

Where things are kept (no new table):

* The forecast is not kept: it is computed on read by ``goals.selectors_progress``
  (``goal_forecast``), the one place a goal's daily values and forecast come from, with
  its source order (manual > whop > whop_webhook > sheets > workflow_runs; never summed).
* That a goal was monitored on a day is the audit row ``goals.goal_monitored`` (its data
  carries the day and the forecast's headline figures). The once-a-day guard keys on it,
  not on a cache: django-q workers do not share a local-memory cache, a restart empties
  one, and the audit row is the durable record of what the monitor saw anyway. Plan
  revisions are never edited in place; an adjustment is a new revision.
* An adjustment's facts are ``document["adjustment"]`` of the revision it made.

Closing: ``goal_close``. The final report is the reports part's: its tick finds achieved
or missed goals without a final ``GoalReport`` (``goals.services.reports``), a pull, not
a hook, so a crash between closing and reporting loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import CharField
from django.db.models.functions import Cast
from django.utils import timezone

from decisions.models import AuditEvent, Decision, NotificationPreference
from decisions.policy import ActionProposal
from decisions.selectors import decision_mail_recipients, policy_thresholds
from decisions.services import decision_request, policy_check
from decisions.services.audit import audit_log
from decisions.services.telegram import telegram_notice_send
from goals.catalogue import CatalogueEntry, catalogue_load
from goals.forecast import Anomaly, Forecast, anomalies_detect
from goals.models import Goal, MetricSnapshot, PlanRevision
from goals.planning import plan_decompose
from goals.selectors import plan_current
from goals.selectors_progress import goal_forecast, goal_measure
from goals.services.reports import amount_text
from goals.services.snapshots import snapshots_take
from goals.sources import MetricSource, sources_all
from goals.vocabulary import currency_exponent

logger = logging.getLogger(__name__)

#: Adjustments and re-plans after the first plan, per goal: past this a person re-plans.
MAX_REPLANS = 5
#: Active goals one tick looks at; the rest wait for the next tick.
MONITOR_BATCH = 500

ADJUST_ACTION = "goals.adjustment_approve"
ANOMALY_ACTION = "goals.anomaly_resolve"


class MonitorError(ValueError):
    """A goal the monitor cannot act on, with why."""


@dataclass(frozen=True)
class AdjustResult:
    #: ``applied``, ``asked``, ``unchanged``, ``capped``, ``already_today``, ``pending``.
    outcome: str
    revision: PlanRevision | None = None
    change: Decimal | None = None
    decision: Decision | None = None


@dataclass(frozen=True)
class MonitorReport:
    goal_id: int
    #: ``monitored``, ``closed``, ``already``, ``not_active``.
    outcome: str
    forecast: Forecast | None = None
    adjustment: AdjustResult | None = None
    anomaly_decision: Decision | None = None
    closed_as: str = ""


# --- closing ---------------------------------------------------------------------------


def goal_close(*, goal_id: int, status: str, forecast: Forecast, today: date) -> bool:
    """ACTIVE → ACHIEVED or MISSED, guarded and audited; False when already not active."""
    if status not in (Goal.Status.ACHIEVED, Goal.Status.MISSED):
        raise MonitorError(f"a goal closes as achieved or missed, not {status!r}")
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal_id)
        if not Goal.transition_allowed(goal.status, status) or goal.status != Goal.Status.ACTIVE:
            return False
        previous = goal.status
        goal.status = status
        goal.updated_at = timezone.now()
        goal.save(update_fields=["status", "updated_at"])
        audit_log(
            action="goals.goal_closed",
            subject=goal,
            data={
                "from": previous,
                "to": status,
                "day": today.isoformat(),
                "achieved": forecast.achieved,
                "target": forecast.target,
                "early": today <= goal.period_end,
            },
        )
    return True


# --- anomalies -------------------------------------------------------------------------


def _business_days(anomaly: Anomaly) -> str:
    return ", ".join(
        f"{day:%b %d}: {value:,}" for day, value in zip(anomaly.days, anomaly.values, strict=True)
    )


def _anomaly_asked(*, goal: Goal, anomaly: Anomaly) -> bool:
    """Whether this anomaly (same direction, continuing from an asked one) was asked."""
    first = anomaly.days[0]
    asked = Decision.objects.filter(action=ANOMALY_ACTION, action_args__goal_id=goal.pk)
    for args in asked.values_list("action_args", flat=True):
        if args.get("direction") != anomaly.direction or not args.get("days"):
            continue
        if date.fromisoformat(args["days"][-1]) >= first - timedelta(days=1):
            return True
    return False


def anomaly_telegram_text(*, goal: Goal, anomaly: Anomaly, asked: bool) -> str:
    """An anomaly as a short Telegram message in business words, amounts formatted."""
    metric, currency = goal_measure(goal), goal.currency

    def amount(value: float) -> str:
        whole = int(Decimal(str(value)).quantize(Decimal(1), ROUND_HALF_UP))
        return amount_text(whole, currency=currency, metric=metric)

    word = "dropped" if anomaly.direction == "down" else "jumped"
    days = ", ".join(
        f"{day:%b %d}: {amount(value)}"
        for day, value in zip(anomaly.days, anomaly.values, strict=True)
    )
    lines = [
        f"Goal #{goal.pk} ({goal.text[:80]}): daily {goal.get_metric_display().lower()} {word} "
        f"for {len(anomaly.days)} days in a row.",
        f"{days}. A usual day before was {amount(anomaly.median)}.",
    ]
    lines.append(
        "A decision asks what to do (pause, re-plan or keep the plan)."
        if asked
        else "Within the policy's limits: noted, nothing to decide."
    )
    return "\n".join(lines)


def anomaly_telegram(*, goal: Goal, anomaly: Anomaly, asked: bool) -> int:
    """Tell those who chose Telegram for anomalies (the goal's asker and the decision
    mail staff); once per anomaly (goal, direction, first day) and person."""
    asker = goal.requested_by
    people = [asker] if asker is not None and asker.is_active else []
    return len(
        telegram_notice_send(
            event=NotificationPreference.Event.ANOMALY,
            people=[*people, *decision_mail_recipients()],
            # Composed for each reader in their own language (message_language).
            text=lambda: anomaly_telegram_text(goal=goal, anomaly=anomaly, asked=asked),
            key=f"anomaly:{goal.pk}:{anomaly.direction}:{anomaly.days[0].isoformat()}",
        )
    )


def goal_anomaly_check(
    *, goal: Goal, daily: Sequence[tuple[date, int]], today: date
) -> Decision | None:
    """Ask a person about a sustained deviation of the goal's daily figures, once."""
    sigma = policy_thresholds().anomaly_sigma
    anomaly = anomalies_detect(daily=daily, sigma=sigma)
    if anomaly is None or _anomaly_asked(goal=goal, anomaly=anomaly):
        return None
    verdict = policy_check(
        proposal=ActionProposal(
            kind="anomaly", summary=f"goal #{goal.pk} metric", sigma=anomaly.sigma
        )
    )
    word = "dropped" if anomaly.direction == "down" else "jumped"
    median = Decimal(str(anomaly.median)).quantize(Decimal(1), ROUND_HALF_UP)
    anomaly_telegram(goal=goal, anomaly=anomaly, asked=verdict.requires_decision)
    if not verdict.requires_decision:
        with transaction.atomic():
            audit_log(
                action="goals.anomaly_noted",
                subject=goal,
                data={"days": [d.isoformat() for d in anomaly.days], "rule": verdict.rule},
            )
        return None
    days_text = _business_days(anomaly)
    situation = (
        f"The daily {goal.get_metric_display().lower()} of goal #{goal.pk} ({goal.text[:80]}) "
        f"{word} for {len(anomaly.days)} days in a row: {days_text}. A usual day before "
        f"that was {median:,} (the median of the earlier days); each of these days is at "
        f"least {anomaly.sigma:.1f} typical deviations away. {verdict.reason}."
    )
    recommend_replan = anomaly.direction == "down"
    with transaction.atomic():
        decision = decision_request(
            kind=verdict.decision_kind or "anomaly",
            title=f"Goal #{goal.pk}: daily {goal.metric} {word} for {len(anomaly.days)} days",
            situation=situation,
            impact="Pausing stops the goal's workflows; re-planning recomputes the volumes "
            "from what is left to reach and the days left.",
            options=[
                {
                    "key": "acknowledge",
                    "label": "Acknowledge: keep the current plan",
                    "recommended": not recommend_replan,
                },
                {"key": "pause", "label": "Pause the goal (run nothing until re-planned)"},
                {
                    "key": "replan",
                    "label": "Re-plan from today's figures",
                    "recommended": recommend_replan,
                },
                {"key": "reject", "label": "Dismiss"},
            ],
            action=ANOMALY_ACTION,
            action_args={
                "goal_id": goal.pk,
                "direction": anomaly.direction,
                "days": [d.isoformat() for d in anomaly.days],
                "values": list(anomaly.values),
                "median": str(median),
            },
            subject=goal,
        )
        audit_log(
            action="goals.anomaly_asked",
            subject=goal,
            data={"decision": decision.pk, "days": [d.isoformat() for d in anomaly.days]},
        )
    return decision


# --- adjustment ------------------------------------------------------------------------


def _volumes(document: dict[str, Any]) -> dict[str, int]:
    return {
        str(a.get("catalogue") or a.get("workflow")): int(a.get("per_day") or 0)
        for a in document.get("actions", [])
    }


def plan_base(*, goal_id: int) -> PlanRevision | None:
    """What cumulative change is measured against: the newest revision a person approved,
    or the initial plan when no person approved any."""
    approved = PlanRevision.objects.filter(goal_id=goal_id, approved_at__isnull=False)
    by_person = approved.filter(approved_by__isnull=False).order_by("-number").first()
    if by_person is not None:
        return by_person
    return approved.filter(reason=PlanRevision.Reason.INITIAL).order_by("number").first()


def _change(new: dict[str, int], base: dict[str, int]) -> Decimal:
    """The largest relative change of any action's volume against the base plan."""
    largest = Decimal(0)
    for key, volume in new.items():
        before = base.get(key, 0)
        if before <= 0:
            if volume > 0:
                return Decimal(1)  # an action the base did not run: a full change
            continue
        change = (Decimal(volume) / before - 1).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if abs(change) > abs(largest):
            largest = change
    return largest


def _arpu(document: dict[str, Any], currency: str) -> int | None:
    raw = document.get("arpu")
    if raw in (None, ""):
        return None
    return int(Decimal(str(raw)).scaleb(currency_exponent(currency)))


def plan_adjusted_document(
    *,
    goal: Goal,
    current: dict[str, Any],
    factor: Decimal,
    achieved: int,
    today: date,
    catalogue: Sequence[CatalogueEntry],
) -> dict[str, Any]:
    """The current plan with each action's volume scaled by ``factor`` (capped at the
    workflow's daily maximum), its figures re-derived by ``plan_decompose``: the scaled
    volumes are the caps the decomposition fills, so no figure is computed twice."""
    entries = {entry.key: entry for entry in catalogue}
    capped: list[CatalogueEntry] = []
    for action in current.get("actions", []):
        entry = entries.get(str(action.get("catalogue")))
        if entry is None:
            raise MonitorError(
                f"goal #{goal.pk}: plan action {action.get('catalogue')!r} is not in the catalogue"
            )
        scaled = int((Decimal(int(action["per_day"])) * factor).to_integral_value(ROUND_HALF_UP))
        capped.append(replace(entry, max_per_day=max(1, min(scaled, entry.max_per_day))))
    decomposition = plan_decompose(
        target=goal.target_amount,
        achieved=achieved,
        start=goal.period_start,
        end=goal.period_end,
        today=today,
        arpu=_arpu(current, goal.currency),
        catalogue=capped,
        metric=goal.metric,
        currency=goal.currency,
    )
    document = decomposition.to_json()
    document["decisions"] = []
    document["assumptions"] = list(current.get("assumptions", []))
    return document


def replans_used(*, goal_id: int) -> int:
    """Revisions after the first plan: what ``MAX_REPLANS`` caps."""
    return (
        PlanRevision.objects.filter(goal_id=goal_id)
        .exclude(reason=PlanRevision.Reason.INITIAL)
        .count()
    )


def revision_add(
    *,
    goal: Goal,
    reason: str,
    author: str,
    document: dict[str, Any],
    rationale: str,
    approved_at: datetime | None,
    approved_by: Any = None,
    decision_id: int | None = None,
) -> PlanRevision:
    """The goal's next revision, numbered after the last. Call it with the goal locked
    (``select_for_update``): the lock is what makes the number free."""
    revision = PlanRevision(
        goal=goal,
        number=PlanRevision.objects.filter(goal=goal).count() + 1,
        reason=reason,
        author=author,
        document=document,
        rationale=rationale,
        approved_at=approved_at,
        approved_by=approved_by,
        decision_id=decision_id,
    )
    revision.full_clean()
    revision.save()
    return revision


def _adjusted_today(goal_id: int, today: date) -> bool:
    return PlanRevision.objects.filter(
        goal_id=goal_id,
        reason=PlanRevision.Reason.ADJUSTMENT,
        document__adjustment__day=today.isoformat(),
    ).exists()


def _pending_adjustment(goal_id: int) -> bool:
    ids = PlanRevision.objects.filter(
        goal_id=goal_id, approved_at__isnull=True, decision_id__isnull=False
    ).values_list("decision_id", flat=True)
    return Decision.objects.filter(pk__in=list(ids), status=Decision.Status.PENDING).exists()


def goal_adjust(
    *,
    goal_id: int,
    today: date,
    factor: Decimal,
    forecast: Forecast | None = None,
    catalogue: Sequence[CatalogueEntry] | None = None,
) -> AdjustResult:
    """Scale the current plan's volumes by ``factor`` as a new revision.

    The change is measured cumulatively against ``plan_base``: within
    ``parameter_tweak_fraction`` it applies at once (approved, no approver, author
    fallback); beyond it a pending revision waits for a decision (strategic at
    ``strategy_change_fraction`` or more). At most one adjustment per goal and day, at
    most ``MAX_REPLANS`` revisions after the first, none while one waits for a person.
    """
    goal = Goal.objects.get(pk=goal_id)
    if goal.status != Goal.Status.ACTIVE:
        raise MonitorError(f"goal #{goal_id} is {goal.status}; only an active goal is adjusted")
    if forecast is None:
        forecast, _ = goal_forecast(goal=goal, today=today)
    catalogue = catalogue if catalogue is not None else catalogue_load()
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal_id)
        if goal.status != Goal.Status.ACTIVE:
            return AdjustResult(outcome="not_active")
        if _adjusted_today(goal_id, today):
            return AdjustResult(outcome="already_today")
        if _pending_adjustment(goal_id):
            return AdjustResult(outcome="pending")
        if replans_used(goal_id=goal_id) >= MAX_REPLANS:
            return AdjustResult(outcome="capped")
        current = plan_current(goal_id=goal_id)
        base = plan_base(goal_id=goal_id)
        if current is None or base is None:
            raise MonitorError(f"goal #{goal_id} has no approved plan to adjust")
        document = plan_adjusted_document(
            goal=goal,
            current=current.document,
            factor=factor,
            achieved=forecast.achieved,
            today=today,
            catalogue=catalogue,
        )
        new_volumes = _volumes(document)
        if new_volumes == _volumes(current.document):
            return AdjustResult(outcome="unchanged")
        change = _change(new_volumes, _volumes(base.document))
        thresholds = policy_thresholds()
        strategic = abs(change) >= Decimal(str(thresholds.strategy_change_fraction))
        verdict = policy_check(
            proposal=ActionProposal(
                kind="strategy_change" if strategic else "parameter_tweak",
                summary=f"goal #{goal_id} volumes",
                change_fraction=float(change),
            )
        )
        document["adjustment"] = {
            "day": today.isoformat(),
            "factor": str(factor),
            "from_revision": current.number,
            "base_revision": base.number,
            "cumulative_change": str(change),
            "strategic": strategic,
            "run_rate": None if forecast.run_rate is None else str(forecast.run_rate),
            "required_daily": forecast.required_daily,
            "rule": verdict.rule,
        }
        revision = revision_add(
            goal=goal,
            reason=PlanRevision.Reason.ADJUSTMENT,
            author=PlanRevision.Author.FALLBACK,
            document=document,
            rationale=(
                f"Behind plan: {forecast.required_daily:,} a day is needed and the run rate "
                f"is {forecast.run_rate}; volumes scaled by {factor} "
                f"({change:+.1%} against plan r{base.number})."
            ),
            approved_at=None if verdict.requires_decision else timezone.now(),
        )
        decision = None
        if verdict.requires_decision:
            decision = _adjustment_ask(goal, revision, base, change, strategic, verdict.reason)
            revision.decision_id = decision.pk
            revision.save(update_fields=["decision_id"])
        audit_log(
            action="goals.plan_adjusted" if decision is None else "goals.plan_adjustment_asked",
            subject=goal,
            data={
                "revision": revision.number,
                "change": str(change),
                "strategic": strategic,
                "decision": None if decision is None else decision.pk,
            },
        )
    return AdjustResult(
        outcome="asked" if decision else "applied",
        revision=revision,
        change=change,
        decision=decision,
    )


def _adjustment_ask(
    goal: Goal,
    revision: PlanRevision,
    base: PlanRevision,
    change: Decimal,
    strategic: bool,
    reason: str,
) -> Decision:
    old = _volumes(base.document)
    lines = "; ".join(
        f"{key}: {old.get(key, 0)} → {volume} a day"
        for key, volume in _volumes(revision.document).items()
    )
    label = "Strategic change" if strategic else "Volume change"
    return decision_request(
        kind="strategy_change",
        title=f"Goal #{goal.pk}: {label.lower()} of {change:+.0%} to catch up",
        situation=(
            f"Goal #{goal.pk} ({goal.text[:80]}) is behind. "
            f"{revision.rationale} Against the plan a person last approved (r{base.number}): "
            f"{lines}. {reason}."
        ),
        impact=f"Plan r{revision.number} replaces the current plan from the next run on.",
        urgency="high" if strategic else "normal",
        options=[
            {"key": "approve", "label": f"Run plan r{revision.number}", "recommended": True},
            {"key": "reject", "label": "Keep the current plan"},
        ],
        action=ADJUST_ACTION,
        action_args={"goal_id": goal.pk, "revision": revision.number, "strategic": strategic},
        subject=goal,
    )


# --- the goal and the tick -------------------------------------------------------------


MONITORED_ACTION = "goals.goal_monitored"


def _monitored(goal_id: int, today: date) -> bool:
    return AuditEvent.objects.filter(
        action=MONITORED_ACTION,
        subject_type=ContentType.objects.get_for_model(Goal),
        subject_id=str(goal_id),
        data__day=today.isoformat(),
    ).exists()


def _monitored_record(*, goal_id: int, forecast: Forecast, today: date) -> None:
    """The day's audit row: what the monitor saw, and the once-a-day guard's key."""
    with transaction.atomic():
        goal = Goal.objects.select_for_update().get(pk=goal_id)
        if _monitored(goal_id, today):
            return  # a concurrent tick recorded the day first
        audit_log(
            action=MONITORED_ACTION,
            subject=goal,
            data={
                "day": today.isoformat(),
                "achieved": forecast.achieved,
                "required_daily": forecast.required_daily,
                "run_rate": None if forecast.run_rate is None else str(forecast.run_rate),
                "projected_total": forecast.projected_total,
                "trend": forecast.trend,
            },
        )


def goal_monitor(*, goal_id: int, today: date) -> MonitorReport:
    """Forecast an active goal, close it when reached or over, ask about an anomaly, and
    adjust its volumes when behind with enough data. Idempotent per day."""
    goal = Goal.objects.get(pk=goal_id)
    if goal.status != Goal.Status.ACTIVE:
        return MonitorReport(goal_id=goal_id, outcome="not_active")
    if _monitored(goal_id, today):
        return MonitorReport(goal_id=goal_id, outcome="already")
    forecast, daily = goal_forecast(goal=goal, today=today)
    if forecast.remaining == 0 or today > goal.period_end:
        status = Goal.Status.ACHIEVED if forecast.remaining == 0 else Goal.Status.MISSED
        closed = goal_close(goal_id=goal_id, status=status, forecast=forecast, today=today)
        return MonitorReport(
            goal_id=goal_id,
            outcome="closed" if closed else "not_active",
            forecast=forecast,
            closed_as=status if closed else "",
        )
    anomaly = goal_anomaly_check(goal=goal, daily=daily, today=today)
    adjustment = None
    if forecast.enough_data and forecast.run_rate and forecast.required_daily > forecast.run_rate:
        factor = (Decimal(forecast.required_daily) / forecast.run_rate).quantize(
            Decimal("0.0001"), ROUND_HALF_UP
        )
        adjustment = goal_adjust(goal_id=goal_id, today=today, factor=factor, forecast=forecast)
    _monitored_record(goal_id=goal_id, forecast=forecast, today=today)
    return MonitorReport(
        goal_id=goal_id,
        outcome="monitored",
        forecast=forecast,
        adjustment=adjustment,
        anomaly_decision=anomaly,
    )


def snapshots_take_once(*, day: date, sources: list[MetricSource] | None = None) -> list[str]:
    """Read each polled source for ``day`` unless it already has a reading that day;
    returns the sources read. ``snapshot_record`` is idempotent anyway; this spares the
    APIs a call every tick."""
    taken = set(MetricSnapshot.objects.filter(date=day).values_list("source", flat=True))
    due = [s for s in (sources if sources is not None else sources_all()) if s.name not in taken]
    if due:
        snapshots_take(day=day, sources=due)
    return [s.name for s in due if s.enabled()]


def goals_monitor_due(*, now: datetime | None = None) -> list[MonitorReport]:
    """The tick: yesterday's snapshots, then each active goal (at most ``MONITOR_BATCH``).

    Yesterday is the last complete day; the forecast never counts today.
    """
    now = now or timezone.now()
    today = timezone.localdate(now)
    snapshots_take_once(day=today - timedelta(days=1))
    reports: list[MonitorReport] = []
    # Goals already monitored today are left out in the query, so each tick takes the
    # next batch: every active goal is reached however many there are.
    done = AuditEvent.objects.filter(
        action=MONITORED_ACTION,
        subject_type=ContentType.objects.get_for_model(Goal),
        data__day=today.isoformat(),
    ).values("subject_id")
    ids = (
        Goal.objects.filter(status=Goal.Status.ACTIVE)
        # The audit row's subject id is text: compare the goal's id as text too.
        .annotate(subject_key=Cast("pk", output_field=CharField()))
        .exclude(subject_key__in=done)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for goal_id in list(ids[:MONITOR_BATCH]):
        try:
            reports.append(goal_monitor(goal_id=goal_id, today=today))
        except Exception:  # one goal's trouble must not stop the others
            logger.exception("monitor: goal #%s failed", goal_id)
    return reports
