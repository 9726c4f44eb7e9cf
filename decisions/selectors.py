"""Reads for governance: the approval queue, who is an approver, budget status, audit
trails, and what a person outside the admin may see of a decision."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import TypedDict

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Case, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from decisions.actors import Actor, Person
from decisions.models import AuditEvent, Budget, Decision, Period, PolicySettings
from decisions.models.budget import money_quantise
from decisions.models.decision import URGENCY_RANK
from decisions.policy import PolicyThresholds

# The permission that makes someone an approver (as declared on ``Decision.Meta``).
APPROVE_PERMISSION = "decisions.approve_decision"

# Early in a period a straight projection is noise (one spend an hour into a month
# would forecast 700x); the projection treats at least this much of it as elapsed.
FORECAST_MIN_ELAPSED = 0.25


def decision_queue() -> models.QuerySet[Decision]:
    """Pending decisions, most urgent first, then soonest due."""
    rank = Case(
        *(When(urgency=urgency, then=Value(value)) for urgency, value in URGENCY_RANK.items()),
        default=Value(9),
        output_field=IntegerField(),
    )
    return (
        Decision.objects.filter(status=Decision.Status.PENDING)
        .annotate(urgency_order=rank)
        .prefetch_related("options")
        .select_related("requested_by")
        .order_by("urgency_order", "due_at", "id")
    )


# Who is an approver. One rule, used by the services, the admin, the mailed links and
# the mail itself:
#
# * May decide: an active user holding ``decisions.approve_decision``, directly, through
#   a group, or as a superuser. Staff status only opens the admin; it is not approval.
#   So a non-staff holder of the permission decides through their mailed link (and
#   cannot open the admin); a staff member without it may look but not decide.
# * Is mailed: those who may decide and have an email address; when
#   ``BIZAGENT_APPROVER_GROUP`` is set, only those of them in that group. The group
#   narrows who is disturbed; it never makes anyone an approver, so nobody is mailed a
#   link that would then refuse them.


def user_may_decide(user: Actor) -> bool:
    """Whether ``user`` may approve or reject decisions now (see the rule above)."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.has_perm(APPROVE_PERMISSION)
    )


def decision_approvers() -> models.QuerySet:
    """Every active user who may decide, as a query (the rule above, in SQL)."""
    app_label, codename = APPROVE_PERMISSION.split(".")
    permission = Permission.objects.filter(
        content_type__app_label=app_label, codename=codename
    ).first()
    holds = Q(is_superuser=True)
    if permission is not None:
        holds |= Q(user_permissions=permission) | Q(groups__permissions=permission)
    users = get_user_model().objects.filter(is_active=True)
    return users.filter(pk__in=users.filter(holds).values("pk")).order_by("pk")


def decision_mail_recipients() -> models.QuerySet:
    """Approvers to mail about decisions: with an address, in the approver group if set."""
    users = decision_approvers().exclude(email="")
    if settings.APPROVER_GROUP:
        users = users.filter(
            pk__in=get_user_model()
            .objects.filter(groups__name=settings.APPROVER_GROUP)
            .values("pk")
        )
    return users


def policy_settings_get() -> PolicySettings:
    """The policy thresholds row; it only reads.

    The data migration ``0004_policysettings_singleton`` creates the row. A database
    emptied since (``flush``, a transactional test) reads as the defaults, unsaved:
    ``policy_settings_update`` writes the row when staff first change it.
    """
    row = PolicySettings.objects.filter(pk=PolicySettings.SINGLETON_ID).first()
    return row if row is not None else PolicySettings(pk=PolicySettings.SINGLETON_ID)


def policy_thresholds() -> PolicyThresholds:
    """The thresholds ``decisions.policy.policy_evaluate`` applies, as staff last set them."""
    row = policy_settings_get()
    return PolicyThresholds(
        budget_overrun_fraction=float(row.budget_overrun_fraction),
        parameter_tweak_fraction=float(row.parameter_tweak_fraction),
        strategy_change_fraction=float(row.strategy_change_fraction),
        anomaly_sigma=float(row.anomaly_sigma),
        max_automatic_retries=row.max_automatic_retries,
        mass_deletion_records=row.mass_deletion_records,
        mass_send_recipients=row.mass_send_recipients,
    )


def decision_audit_trail(decision: Decision) -> models.QuerySet[AuditEvent]:
    return AuditEvent.objects.for_subject(decision).select_related("actor").order_by("id")


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The [start, end) of the period containing ``now``, in the current time zone."""
    local = timezone.localtime(now)
    day = local.date()
    if period == Period.DAILY:
        start_day, end_day = day, day + timedelta(days=1)
    elif period == Period.WEEKLY:
        start_day = day - timedelta(days=day.weekday())
        end_day = start_day + timedelta(days=7)
    elif period == Period.MONTHLY:
        start_day = day.replace(day=1)
        days = calendar.monthrange(day.year, day.month)[1]
        end_day = start_day + timedelta(days=days)
    elif period == Period.QUARTERLY:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start_day = day.replace(month=first_month, day=1)
        end_day = (
            start_day.replace(year=day.year + 1, month=1)
            if first_month == 10
            else start_day.replace(month=first_month + 3)
        )
    else:
        raise ValueError(f"unknown budget period {period!r}")
    zone = timezone.get_current_timezone()
    return (
        timezone.make_aware(datetime.combine(start_day, time.min), zone),
        timezone.make_aware(datetime.combine(end_day, time.min), zone),
    )


@dataclass(frozen=True)
class BudgetStatus:
    budget_id: int
    currency: str
    period_start: datetime
    period_end: datetime
    limit: Decimal
    spent: Decimal
    remaining: Decimal
    forecast: Decimal
    used_fraction: float
    forecast_overrun_fraction: float  # > 0 when the forecast is over the limit

    @property
    def over_limit(self) -> bool:
        return self.spent > self.limit


def _quantise(amount: Decimal, currency: str) -> Decimal:
    return money_quantise(amount, currency)


def budget_status(
    *, budget: Budget, now: datetime | None = None, spent: Decimal | None = None
) -> BudgetStatus:
    """Spent, remaining and a linear forecast for the period containing ``now``.

    ``spent``: the period's spend when the caller already summed it (a list of budgets
    sums every row's in one query); else it is summed here.
    """
    now = now or timezone.now()
    start, end = period_bounds(budget.period, now)
    if spent is None:
        spent = budget.spends.filter(spent_at__gte=start, spent_at__lt=end).aggregate(
            total=Sum("amount")
        )["total"] or Decimal("0")
    elapsed = (now - start) / (end - start)
    projected = spent / Decimal(str(max(elapsed, FORECAST_MIN_ELAPSED)))
    forecast = _quantise(max(spent, projected), budget.currency)
    limit = budget.limit
    return BudgetStatus(
        budget_id=budget.pk,
        currency=budget.currency,
        period_start=start,
        period_end=end,
        limit=limit,
        spent=spent,
        remaining=limit - spent,
        forecast=forecast,
        used_fraction=float(spent / limit) if limit else (1.0 if spent else 0.0),
        forecast_overrun_fraction=float(forecast / limit - 1) if limit else float(bool(forecast)),
    )


def budget_for_scope(
    *, scope: models.Model | None = None, period: str | None = None, currency: str | None = None
) -> models.QuerySet[Budget]:
    """Active budgets of ``scope`` (None: the global ones)."""
    budgets = Budget.objects.filter(active=True)
    if scope is None:
        budgets = budgets.filter(scope_type__isnull=True)
    else:
        budgets = budgets.filter(
            scope_type=ContentType.objects.get_for_model(scope), scope_id=scope.pk
        )
    if period:
        budgets = budgets.filter(period=period)
    if currency:
        budgets = budgets.filter(currency=currency)
    return budgets.order_by("period", "currency")


# What a person outside the admin may see of a decision: mails and the link page.
#
# One place maps the ``Decision`` model to a plain dict, so templates never reach into
# the model and can never show the model's analysis (chain of thought), which is kept
# for audit and the critic only.


class OptionSummary(TypedDict):
    key: str
    label: str
    impact: str
    recommended: bool


class DecisionSummary(TypedDict):
    id: int
    title: str
    summary: str
    kind: str
    options: list[OptionSummary]
    recommendation: str
    due_at: datetime | None
    is_open: bool
    status_label: str
    outcome_label: str
    chosen_option_label: str
    requested_by: str
    decided_by: str
    comment: str


def _username(user: Person | None) -> str:
    return user.get_username() if user is not None else ""


def decision_summary(decision: Decision) -> DecisionSummary:
    options = [
        OptionSummary(
            key=option.key,
            label=option.label,
            impact=option.impact,
            recommended=bool(option.recommended),
        )
        for option in decision.options.order_by("pk")
    ]
    labels = {option["key"]: option["label"] for option in options}
    status_label = decision.get_status_display()
    return DecisionSummary(
        id=decision.pk,
        title=decision.title,
        summary=decision.situation,
        kind=decision.kind,
        options=options,
        recommendation=labels.get(decision.recommendation, decision.recommendation),
        due_at=decision.due_at,
        is_open=decision.status == Decision.Status.PENDING,
        status_label=status_label,
        outcome_label=status_label.lower(),
        chosen_option_label=labels.get(decision.chosen_option, decision.chosen_option),
        requested_by=_username(decision.requested_by),
        decided_by=_username(decision.decided_by),
        comment=decision.comment,
    )
