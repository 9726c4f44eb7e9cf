"""Admin: the goal pages. "New goal" (a sentence → a confirmation → saved, planned and
started; the confirmation carries what it showed, signed, so "Start" understands nothing
again),
the goal page (read-only: the sentence, what was understood, the plan, the progress
chart, the revisions) and the admin index's active goals. Thin: services do the work.

Nothing here writes a goal but the goal services (``goal_save_and_start``); the change view is
read-only for everyone because a goal's status moves only through its services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Max
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from bizagent.admin_base import NoChangeAdminMixin, NoDeleteAdminMixin
from goals.charts import progress_chart
from goals.models import Goal, MetricSnapshot
from goals.parsing import GoalParseError
from goals.planning import PlanError, money_major
from goals.services.goals import (
    GoalServiceError,
    Understanding,
    goal_understand,
    understanding_draft,
    understanding_from_state,
    understanding_state,
)
from goals.services.intake import goal_save_and_start
from goals.services.plans import PlanDraft, PlanStartError
from goals.vocabulary import COUNT_METRICS, FieldSource, Metric

ADD_GOAL_PERMISSION = "goals.add_goal"
VIEW_GOAL_PERMISSION = "goals.view_goal"
#: Longest sentence the form accepts before the parser even sees it (the parser has its
#: own bound; this one keeps a 10 MB paste out of the page we render back).
MAX_TEXT_CHARS = 2000
#: The confirmation carries what was understood and planned, signed with this salt (a
#: token signed for another purpose does not pass) and good for an hour.
CONFIRM_SALT = "goals.admin.confirm"
CONFIRM_MAX_AGE = 60 * 60
#: Statuses shown on the admin index.
INDEX_STATUSES = (Goal.Status.ACTIVE, Goal.Status.PLANNED)


# --- reads for the pages ---------------------------------------------------------------


def _measure(goal: Goal) -> str:
    """Growth goals are measured in revenue."""
    return Metric.REVENUE if goal.metric == Metric.REVENUE_GROWTH else goal.metric


def _daily_maxima(goals: list[Goal]) -> dict[tuple[str, str, dt.date], int]:
    """The day's largest reading per (metric, currency, day) over the goals' periods, in
    one query however many goals there are."""
    if not goals:
        return {}
    rows = (
        MetricSnapshot.objects.filter(
            metric__in={_measure(goal) for goal in goals},
            date__gte=min(goal.period_start for goal in goals),
            date__lte=max(goal.period_end for goal in goals),
        )
        .values("metric", "currency", "date")
        .annotate(value=Max("value"))
    )
    return {(row["metric"], row["currency"] or "", row["date"]): row["value"] for row in rows}


def _goal_days(
    goal: Goal, maxima: dict[tuple[str, str, dt.date], int]
) -> list[tuple[dt.date, int]]:
    measure = _measure(goal)
    days: dict[dt.date, int] = {}
    for (metric, currency, day), value in maxima.items():
        if metric != measure or not goal.period_start <= day <= goal.period_end:
            continue
        if measure == Metric.REVENUE and currency != goal.currency:
            continue
        days[day] = max(value, days.get(day, value))
    return sorted(days.items())


def goal_daily_actuals(goal: Goal) -> list[tuple[dt.date, int]]:
    """Per-day amounts of the goal's metric within its period, from its snapshots.

    Several sources may read the same day (the Whop API and its webhooks both see a
    payment): the day's largest reading counts, never their sum, so one sale is not
    counted twice. Growth goals are measured in revenue; revenue only in their currency.
    """
    return _goal_days(goal, _daily_maxima([goal]))


def goal_amount_text(goal: Goal, amount: int) -> str:
    """An amount in the goal's unit as a person reads it: "2,000,000 JPY", "30 people"."""
    if goal.metric in COUNT_METRICS:
        return f"{amount:,} people"
    major = money_major(amount, goal.currency)
    whole, _, cents = major.partition(".")
    return f"{int(whole):,}{'.' + cents if cents else ''} {goal.currency}"


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    achieved: int
    percent: int
    achieved_text: str
    target_text: str


def goals_progress() -> list[GoalProgress]:
    """Active and planned goals with achieved / target (0 without snapshots)."""
    result = []
    goals = list(Goal.objects.filter(status__in=INDEX_STATUSES).order_by("period_end", "pk"))
    maxima = _daily_maxima(goals)  # one read for every goal on the index, not one each
    for goal in goals:
        achieved = sum(value for _, value in _goal_days(goal, maxima))
        percent = min(100, max(0, achieved * 100 // goal.target_amount))
        result.append(
            GoalProgress(
                goal=goal,
                achieved=achieved,
                percent=percent,
                achieved_text=goal_amount_text(goal, achieved),
                target_text=goal_amount_text(goal, goal.target_amount),
            )
        )
    return result


def active_goals_context(request: HttpRequest) -> dict[str, Any]:
    """What the admin index's goals section shows."""
    return {
        "goals_progress": goals_progress(),
        "can_add_goal": request.user.has_perm(ADD_GOAL_PERMISSION),
        "can_view_goal": request.user.has_perm(VIEW_GOAL_PERMISSION),
    }


# --- rendering helpers -----------------------------------------------------------------


def understood_rows(document: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(field, value, where it came from) for the confirmation and the goal page."""
    sources = document.get("fields_from", {})
    period = document.get("period")
    baseline = document.get("baseline")
    values = {
        "metric": document.get("metric"),
        "target_amount": document.get("target_amount"),
        "currency": document.get("currency"),
        "growth_pct": document.get("growth_pct"),
        "baseline": baseline and f"{baseline['start']} – {baseline['end']}",
        "period": period and f"{period['start']} – {period['end']} ({period['days']} days)",
    }
    labels = dict(FieldSource.choices)
    return [
        (name, str(value), labels.get(sources.get(name, ""), "-"))
        for name, value in values.items()
        if value is not None
    ]


def _today() -> dt.date:
    return timezone.localdate()


@admin.register(Goal)
class GoalAdmin(NoChangeAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin):
    # A goal changes only through its services: no raw form, no delete.
    list_display = ("id", "text", "metric", "target_amount", "currency", "period_end", "status")
    list_filter = ("status", "metric")
    search_fields = ("text",)
    fields = (
        "sentence",
        "status",
        "understood",
        "plan_table",
        "progress",
        "revisions_table",
        "requested_by",
        ("created_at", "updated_at"),
    )
    readonly_fields = (*fields[:-1], "created_at", "updated_at")

    # --- the goal page ---------------------------------------------------------------

    @admin.display(description="the goal as typed")
    def sentence(self, obj: Goal) -> str:
        return format_html('<p class="goal-sentence" style="font-size:1.2em">{}</p>', obj.text)

    @admin.display(description="what was understood")
    def understood(self, obj: Goal) -> str:
        document = {
            "metric": obj.metric,
            "target_amount": goal_amount_text(obj, obj.target_amount),
            "currency": obj.currency,
            "growth_pct": obj.growth_pct,
            "baseline": obj.baseline_start
            and {"start": obj.baseline_start, "end": obj.baseline_end},
            "period": {
                "start": obj.period_start,
                "end": obj.period_end,
                "days": (obj.period_end - obj.period_start).days + 1,
            },
            "fields_from": obj.fields_from,
        }
        return render_understood(understood_rows(document))

    @admin.display(description="latest plan")
    def plan_table(self, obj: Goal) -> str:
        revision = obj.revisions.order_by("-number").first()
        if revision is None:
            return "no plan yet"
        unit = "people" if obj.metric in COUNT_METRICS else obj.currency
        return render_plan(revision.document, unit=unit, currency=obj.currency)

    @admin.display(description="progress")
    def progress(self, obj: Goal) -> str:
        chart = progress_chart(
            start=obj.period_start,
            end=obj.period_end,
            target=obj.target_amount,
            daily=goal_daily_actuals(obj),
            label=f"{obj.get_metric_display()}: actual vs target",
        )
        return format_html(
            '<div class="goal-progress"><p>achieved {} of {}</p>{}<p class="goal-forecast">{}'
            "</p></div>",
            goal_amount_text(obj, chart.achieved),
            goal_amount_text(obj, obj.target_amount),
            # The chart escapes every text it draws (goals.charts).
            mark_safe(chart.svg),  # noqa: S308
            chart.note,
        )

    @admin.display(description="plan revisions")
    def revisions_table(self, obj: Goal) -> str:
        revisions = obj.revisions.order_by("number")
        if not revisions:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>r{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.number,
                    r.get_reason_display(),
                    r.get_author_display(),
                    r.rationale or "-",
                    r.approved_by or ("system" if r.approved_at else "not yet"),
                    r.created_at.strftime("%Y-%m-%d %H:%M"),
                )
                for r in revisions
            ),
        )
        return format_html(
            '<table class="goal-revisions"><thead><tr><th>#</th><th>why</th><th>by</th>'
            "<th>rationale</th><th>approved</th><th>when</th></tr></thead><tbody>{}</tbody>"
            "</table>",
            rows,
        )

    # --- "New goal": a sentence, a confirmation, then the goal page ------------------

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return self._form(request, text="", error="")
        if request.POST.get("confirm"):
            return self._confirmed(request)
        text = request.POST.get("text", "")
        if len(text) > MAX_TEXT_CHARS:
            return self._form(
                request,
                text="",
                error=f"The goal is {len(text):,} characters long; keep it under "
                f"{MAX_TEXT_CHARS:,} (one sentence is enough).",
            )
        if not text.strip():
            return self._form(request, text="", error="Type a goal, such as 1週間で200万作りたい.")
        today = _today()
        try:
            understanding = goal_understand(
                text=text,
                today=today,
                default_currency=settings.DEFAULT_CURRENCY,
                arpu=request.POST.get("arpu"),
            )
            # The model chooses the plan's workflows here, before any transaction; the
            # confirmation carries this plan, so "Start" starts what the person saw.
            draft = (
                understanding_draft(understanding=understanding, today=today)
                if understanding.ready
                else None
            )
        except (GoalParseError, PlanError, GoalServiceError) as exc:
            return self._form(request, text=text, error=_message(exc))
        return self._confirmation(request, understanding=understanding, draft=draft, today=today)

    def _confirmed(self, request: HttpRequest) -> HttpResponse:
        """ "Start" on the confirmation page: the signed understanding and plan, saved and
        started; nothing is understood or planned again."""
        try:
            state = signing.loads(
                request.POST.get("state", ""), salt=CONFIRM_SALT, max_age=CONFIRM_MAX_AGE
            )
            understanding, draft = understanding_from_state(state)
            today = dt.date.fromisoformat(state["today"])
        except signing.SignatureExpired:
            return self._form(
                request,
                text="",
                error="This confirmation is more than an hour old; type the goal again to "
                "see a plan from today's figures.",
            )
        except (signing.BadSignature, GoalServiceError, KeyError, TypeError, ValueError):
            return self._form(
                request,
                text="",
                error="This confirmation was changed or damaged, so nothing was saved; type "
                "the goal again.",
            )
        try:
            # One transaction: a goal without its plan and start is never left behind.
            with transaction.atomic():
                saved = goal_save_and_start(
                    understanding=understanding, draft=draft, today=today, actor=request.user
                )
        except (PlanError, GoalServiceError, PlanStartError) as exc:
            return self._form(request, text=understanding.parsed.text, error=_message(exc))
        goal = saved.goal
        assert goal is not None
        if saved.decision_id is not None:
            self.message_user(
                request,
                f"Goal #{goal.pk} is planned and waits for decision #{saved.decision_id}.",
                level=messages.WARNING,
            )
        else:
            self.message_user(request, f"Goal #{goal.pk} is active: its plan started.")
        return HttpResponseRedirect(reverse("admin:goals_goal_change", args=[goal.pk]))

    def _base_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
        }

    def _form(self, request: HttpRequest, *, text: str, error: str) -> HttpResponse:
        context = {**self._base_context(request, "New goal"), "text": text, "error": error}
        return TemplateResponse(request, "admin/goals/goal/new.html", context)

    def _confirmation(
        self,
        request: HttpRequest,
        *,
        understanding: Understanding,
        draft: PlanDraft | None,
        today: dt.date,
    ) -> HttpResponse:
        document = understanding.to_json()
        plan = draft.document if draft is not None else None
        state = ""
        if draft is not None:
            carried = {**understanding_state(understanding, draft), "today": today.isoformat()}
            state = signing.dumps(carried, salt=CONFIRM_SALT, compress=True)
        currency = understanding.parsed.currency or understanding.default_currency
        unit = "people" if understanding.parsed.metric in COUNT_METRICS else currency
        context = {
            **self._base_context(request, "Confirm the goal"),
            "text": understanding.parsed.text,
            "understood": render_understood(understood_rows(document)),
            "questions": document["questions"],
            "confirm_fields": document["confirm"],
            "plan": render_plan(plan, unit=unit, currency=currency) if plan is not None else "",
            "ready": understanding.ready,
            "state": state,
        }
        return TemplateResponse(request, "admin/goals/goal/confirm.html", context)


def _message(exc: Exception) -> str:
    return getattr(exc, "message", None) or str(exc)


def render_understood(rows: list[tuple[str, str, str]]) -> SafeString:
    body = format_html_join(
        "", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", ((n, v, s) for n, v, s in rows)
    )
    return format_html(
        '<table class="goal-understood"><thead><tr><th>field</th><th>value</th>'
        "<th>where it came from</th></tr></thead><tbody>{}</tbody></table>",
        body,
    )


def render_plan(plan: dict[str, Any], *, unit: str, currency: str) -> SafeString:
    """The plan document as a person reads it: daily target, actions, budget, risks and
    assumptions. Amounts in ``plan`` are major-unit strings already."""
    actions = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                a["workflow"],
                ", ".join(f"{k}={v}" for k, v in a["params"].items()),
                a["per_day"],
                a["expected"],
                a["cost"],
            )
            for a in plan.get("actions", [])
        ),
    )
    risks = format_html_join("", "<li>{}</li>", ((r["message"],) for r in plan.get("risks", [])))
    assumptions = format_html_join("", "<li>{}</li>", ((a,) for a in plan.get("assumptions", [])))
    return format_html(
        '<div class="goal-plan">'
        '<p>Daily target: <strong class="goal-daily-target">{}</strong> {}</p>'
        '<table class="goal-actions"><thead><tr><th>workflow</th><th>parameters</th>'
        "<th>per day</th><th>expected per day</th><th>cost</th></tr></thead><tbody>{}</tbody>"
        "</table>"
        '<p>Budget estimate: <span class="goal-budget">{} {}</span></p>'
        '<h4>Risks</h4><ul class="goal-risks">{}</ul>'
        '<h4>Assumptions</h4><ul class="goal-assumptions">{}</ul></div>',
        _grouped(plan.get("daily_target")),
        unit,
        actions,
        _grouped(plan.get("budget_estimate")),
        currency,
        risks or format_html("<li>{}</li>", "none"),
        assumptions or format_html("<li>{}</li>", "none"),
    )


def _grouped(value: Any) -> str:
    """ "285715" → "285,715" (a major-unit string; decimals kept)."""
    if not isinstance(value, str) or not value.lstrip("-").replace(".", "", 1).isdigit():
        return str(value)
    whole, dot, rest = value.partition(".")
    return f"{int(whole):,}{dot}{rest}"
