"""Admin: the goal pages. "New goal" (a sentence → a confirmation → saved, planned and
started; the confirmation carries what it showed, signed, so "Start" understands nothing
again),
the goal page (read-only: the sentence, what was understood, the plan, the progress
chart with its figures, the runs, decisions and reports, the monitoring figures, and
"Cancel the goal") and the admin index's active goals. Thin: services do the work,
``goals.selectors_goal_page`` and ``goals.selectors_progress`` do the reading.

Nothing here writes a goal but the goal services (``goal_save_and_start``,
``goal_cancel``); the change view is read-only for everyone because a goal's status
moves only through its services.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, gettext_lazy

from bizagent.admin_base import NoChangeAdminMixin, NoDeleteAdminMixin
from decisions.models import Decision
from goals.charts import progress_chart
from goals.forecast import Forecast
from goals.models import Goal, GoalRun
from goals.parsing import GoalParseError
from goals.planning import PlanError
from goals.selectors_goal_page import GoalPage, goal_page
from goals.selectors_progress import goals_forecasts
from goals.services.cancel import GoalCancelError, goal_cancel
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
from goals.services.reports import amount_text, trend_text
from goals.vocabulary import COUNT_METRICS, FieldSource, currency_exponent
from goals.wording import INDEX_STATUSES, TREND_WORDS, goal_amount_text

_ = gettext_lazy

ADD_GOAL_PERMISSION = "goals.add_goal"
VIEW_GOAL_PERMISSION = "goals.view_goal"
#: Cancelling a goal is changing it (no custom permission: no migration for one button).
CANCEL_GOAL_PERMISSION = "goals.change_goal"
#: Longest sentence the form accepts before the parser even sees it (the parser has its
#: own bound; this one keeps a 10 MB paste out of the page we render back).
MAX_TEXT_CHARS = 2000
#: The confirmation carries what was understood and planned, signed with this salt (a
#: token signed for another purpose does not pass) and good for an hour.
CONFIRM_SALT = "goals.admin.confirm"
CONFIRM_MAX_AGE = 60 * 60
#: Statuses shown on the admin index.


# --- words and amounts -----------------------------------------------------------------


def _list_percent(part: int, whole: int) -> int:
    """Progress in whole percent, 0–100 (a bar cannot overflow)."""
    if whole <= 0:
        return 0
    return min(100, max(0, part * 100 // whole))


def _major_text(goal: Goal, major: Any, *, money: bool | None = None) -> str:
    """A plan document figure (a major-unit string) in the goal's words; costs are always
    money (``money=True``), expected figures are in the goal's unit."""
    if major in (None, ""):
        return "-"
    value = Decimal(str(major))
    if money or (money is None and goal.metric not in COUNT_METRICS):
        minor = int(value.scaleb(currency_exponent(goal.currency)).to_integral_value())
        return amount_text(minor, currency=goal.currency, metric="revenue")
    return gettext("%(count)s people") % {
        "count": f"{int(value.to_integral_value(ROUND_HALF_UP)):,}"
    }


def _rate_text(goal: Goal, rate: Decimal | None) -> str:
    if rate is None:
        return "-"
    return goal_amount_text(goal, int(rate.to_integral_value(ROUND_HALF_UP)))


def _duration_text(value: dt.timedelta | None) -> str:
    if value is None:
        return "-"
    hours = value.total_seconds() / 3600
    if hours >= 48:
        return gettext("%(days)s days") % {"days": f"{hours / 24:.1f}"}
    return gettext("%(hours)s hours") % {"hours": f"{hours:.1f}"}


def _pct_text(value: Decimal | None) -> str:
    return "-" if value is None else f"{(value * 100).quantize(Decimal(1), ROUND_HALF_UP)}%"


def _when(value: dt.datetime | None) -> str:
    return "-" if value is None else timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def _person(user: Any) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else ""


# --- the admin index -------------------------------------------------------------------


@dataclass(frozen=True)
class GoalProgress:
    goal: Goal
    achieved: int
    percent: int
    achieved_text: str
    target_text: str
    #: Where the forecast ends the period, as a percent of the target (None: no forecast).
    forecast_percent: int | None
    forecast_text: str


def _percent(amount: int, target: int) -> int:
    return min(100, max(0, amount * 100 // target)) if target > 0 else 0


def goals_progress(*, today: dt.date | None = None) -> list[GoalProgress]:
    """Active (and planned, awaiting) goals with achieved / target and the forecast."""
    today = today or _today()
    goals = list(Goal.objects.filter(status__in=INDEX_STATUSES).order_by("period_end", "pk"))
    forecasts = goals_forecasts(goals=goals, today=today)  # one read for every goal
    result = []
    for goal in goals:
        forecast, _ = forecasts[goal.pk]
        projected = forecast.projected_total if forecast.enough_data else None
        result.append(
            GoalProgress(
                goal=goal,
                achieved=forecast.achieved,
                percent=_percent(forecast.achieved, goal.target_amount),
                achieved_text=goal_amount_text(goal, forecast.achieved),
                target_text=goal_amount_text(goal, goal.target_amount),
                forecast_percent=None
                if projected is None
                else _percent(projected, goal.target_amount),
                forecast_text=gettext("not enough data yet")
                if projected is None
                else gettext("forecast %(amount)s") % {"amount": goal_amount_text(goal, projected)},
            )
        )
    return result


def active_goals_context(request: HttpRequest) -> dict[str, Any]:
    """What the admin index's goals section shows."""
    can_view = request.user.has_perm(VIEW_GOAL_PERMISSION)
    return {
        "goals_progress": goals_progress() if can_view else [],
        "can_add_goal": request.user.has_perm(ADD_GOAL_PERMISSION),
        "can_view_goal": can_view,
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
        "period": period
        and gettext("%(start)s – %(end)s (%(days)s days)")
        % {"start": period["start"], "end": period["end"], "days": period["days"]},
    }
    labels = dict(FieldSource.choices)
    return [
        (name, str(value), labels.get(sources.get(name, ""), "-"))
        for name, value in values.items()
        if value is not None
    ]


def _today() -> dt.date:
    return timezone.localdate()


def _trend_text(forecast: Forecast) -> str:
    return trend_text(forecast.trend)


def progress_figures(goal: Goal, forecast: Forecast) -> list[tuple[str, str]]:
    """The chart's figures in words (its text fallback), label → value."""
    projected = "-"
    if forecast.projected_total is not None:
        projected = goal_amount_text(goal, forecast.projected_total)
        if forecast.band_low is not None and forecast.band_high is not None:
            projected += " " + gettext("(between %(low)s and %(high)s)") % {
                "low": goal_amount_text(goal, forecast.band_low),
                "high": goal_amount_text(goal, forecast.band_high),
            }
    completion = forecast.completion_date
    a_day = gettext("%(amount)s a day")
    return [
        (
            gettext("achieved"),
            gettext("%(achieved)s of %(target)s")
            % {
                "achieved": goal_amount_text(goal, forecast.achieved),
                "target": goal_amount_text(goal, goal.target_amount),
            },
        ),
        (gettext("progress"), f"{forecast.progress_pct}%"),
        (gettext("run rate"), a_day % {"amount": _rate_text(goal, forecast.run_rate)}),
        (
            gettext("required per day"),
            a_day % {"amount": goal_amount_text(goal, forecast.required_daily)},
        ),
        (gettext("projected total"), projected),
        (gettext("completion date"), "-" if completion is None else completion.isoformat()),
        (gettext("trend"), _trend_text(forecast)),
        (
            gettext("days"),
            gettext("%(elapsed)s of %(total)s elapsed")
            % {"elapsed": forecast.days_elapsed, "total": forecast.days_total},
        ),
    ]


def _plan_context(page: GoalPage) -> dict[str, Any]:
    goal = page.goal
    revision = page.current or page.waiting
    if revision is None:
        return {"plan": None}
    document = revision.document
    rows = [
        {
            "title": page.catalogue_titles.get(
                str(a.get("catalogue") or a.get("workflow")), str(a.get("workflow"))
            ),
            "per_day": a.get("per_day"),
            "expected": _major_text(goal, a.get("expected")),
            "cost_per_day": _major_text(goal, a.get("cost_per_day"), money=True),
            "total": _major_text(goal, a.get("cost"), money=True),
        }
        for a in document.get("actions", [])
    ]
    if revision.approved_at is None and revision.decision_id is not None:
        approval = gettext("waiting for a person's decision")
    elif revision.approved_at is None:
        approval = gettext("not started yet")
    elif revision.approved_by is not None:
        approval = gettext("approved by %(person)s on %(when)s") % {
            "person": _person(revision.approved_by),
            "when": _when(revision.approved_at),
        }
    else:
        approval = gettext("started within policy on %(when)s") % {
            "when": _when(revision.approved_at)
        }
    return {
        "plan": {
            "number": revision.number,
            "current": revision is page.current,
            "daily_target": _major_text(goal, document.get("daily_target")),
            "budget": _major_text(goal, document.get("budget_estimate"), money=True),
            "rows": rows,
            "rationale": revision.rationale,
            "approval": approval,
            "decision_id": revision.decision_id,
            "assumptions": [str(a) for a in document.get("assumptions", [])],
            "risks": [str(r.get("message", r)) for r in document.get("risks", [])],
        }
    }


def _revision_rows(page: GoalPage) -> list[dict[str, Any]]:
    rows = []
    for r in page.revisions:
        facts = r.document.get("adjustment") or {}
        change = facts.get("cumulative_change")
        rows.append(
            {
                "number": r.number,
                "reason": r.get_reason_display(),
                "author": r.get_author_display(),
                "when": _when(r.created_at),
                "change": "-" if change is None else f"{Decimal(str(change)) * 100:+.1f}%",
                "rationale": r.rationale or "-",
                "approved": (
                    _person(r.approved_by) or gettext("within policy")
                    if r.approved_at
                    else gettext("not yet")
                ),
            }
        )
    return rows


def _figures_rows(page: GoalPage) -> list[tuple[str, str]]:
    f = page.figures
    goal = page.goal
    overall = (
        gettext("%(rate)s (%(achieved)s of %(closed)s closed goals)")
        % {
            "rate": _pct_text(f.achievement_rate),
            "achieved": f.goals_achieved,
            "closed": f.goals_closed,
        }
        if f.goals_closed
        else gettext("no goal closed yet")
    )
    if f.execution_time is not None:
        execution = _duration_text(f.execution_time)
    elif f.started_at is not None:
        execution = gettext("running since %(when)s") % {"when": _when(f.started_at)}
    else:
        execution = gettext("not started")
    return [
        (gettext("goal achievement rate (all goals)"), overall),
        (gettext("execution time (start to close)"), execution),
        (
            gettext("decisions asked"),
            gettext("%(asked)s (%(decided)s decided)")
            % {"asked": f.decisions_asked, "decided": f.decisions_decided},
        ),
        (gettext("decision time (median)"), _duration_text(f.decision_time_median)),
        (
            gettext("auto-execution rate"),
            gettext("%(rate)s (%(automatic)s of %(approved)s plans started without a person)")
            % {
                "rate": _pct_text(f.auto_execution_rate),
                "automatic": f.revisions_automatic,
                "approved": f.revisions_approved,
            }
            if f.revisions_approved
            else gettext("no plan started yet"),
        ),
        (gettext("adjustments"), str(len(f.adjustments))),
    ] + [
        (
            gettext("adjustment r%(revision)s on %(day)s")
            % {"revision": a.revision, "day": a.day.isoformat()},
            gettext("%(change)s (%(how)s); run rate %(before)s before, %(after)s after")
            % {
                "change": f"{a.change * 100:+.1f}%",
                "how": gettext("automatic") if a.automatic else gettext("approved"),
                "before": _rate_text(goal, a.run_rate_before),
                "after": _rate_text(goal, a.run_rate_after),
            },
        )
        for a in f.adjustments
    ]


@admin.register(Goal)
class GoalAdmin(NoChangeAdminMixin, NoDeleteAdminMixin, admin.ModelAdmin):
    # A goal changes only through its services: no raw form, no delete.
    list_display = ("sentence", "progress", "status_words", "deadline")
    list_display_links = ("sentence",)
    list_filter = ("status", "metric")
    search_fields = ("text",)
    list_per_page = 50
    ordering = ("-pk",)

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        # The page's forecasts in one readings query (goals_forecasts), not one per row.
        changelist = super().get_changelist_instance(request)
        goals = list(changelist.result_list)
        forecasts = goals_forecasts(goals=goals, today=_today())
        for goal in goals:
            goal.list_forecast = forecasts.get(goal.pk, (None, []))[0]
        return changelist

    @admin.display(description=_("goal"), ordering="text")
    def sentence(self, goal: Goal) -> str:
        return goal.text

    @admin.display(description=_("progress"))
    def progress(self, goal: Goal) -> SafeString:
        forecast: Forecast | None = getattr(goal, "list_forecast", None)
        if forecast is None:
            return format_html("<span class='goal-progress-none'>{}</span>", _("no figures yet"))
        percent = _list_percent(forecast.achieved, forecast.target)
        return format_html(
            "<progress class='goal-progress' max='100' value='{}' aria-label='{}'></progress>"
            " <b>{}%</b><br><small>{}</small>",
            percent,
            gettext("progress"),
            percent,
            gettext("%(achieved)s of %(target)s")
            % {
                "achieved": goal_amount_text(goal, forecast.achieved),
                "target": goal_amount_text(goal, forecast.target),
            },
        )

    @admin.display(description=_("status"), ordering="status")
    def status_words(self, goal: Goal) -> str:
        forecast: Forecast | None = getattr(goal, "list_forecast", None)
        status = goal.get_status_display()
        if goal.status != Goal.Status.ACTIVE or forecast is None:
            return str(status)
        return gettext("%(status)s, %(trend)s") % {
            "status": status,
            "trend": TREND_WORDS.get(forecast.trend, forecast.trend),
        }

    @admin.display(description=_("deadline"), ordering="period_end")
    def deadline(self, goal: Goal) -> str:
        return date_format(goal.period_end, "DATE_FORMAT")

    def get_urls(self) -> list[Any]:
        cancel = path(
            "<int:goal_id>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name="goals_goal_cancel",
        )
        return [cancel, *super().get_urls()]

    # --- the goal page ---------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The goal page (GET only: a goal changes through its services, never a form)."""
        goal = self.get_object(request, object_id)
        if goal is None:
            raise Http404(f"There is no goal #{object_id}.")
        if not self.has_view_or_change_permission(request, goal):
            raise PermissionDenied
        return self._page(request, goal)

    def _page(self, request: HttpRequest, goal: Goal) -> HttpResponse:
        page = goal_page(goal=goal, today=_today())
        chart = progress_chart(
            start=goal.period_start,
            end=goal.period_end,
            target=goal.target_amount,
            daily=page.daily,
            forecast=page.forecast,
            label=gettext("%(metric)s: actual vs target") % {"metric": goal.get_metric_display()},
        )
        understood = {
            "metric": goal.get_metric_display(),
            "target_amount": goal_amount_text(goal, goal.target_amount),
            "currency": goal.currency,
            "growth_pct": goal.growth_pct,
            "baseline": goal.baseline_start
            and {"start": goal.baseline_start, "end": goal.baseline_end},
            "period": {
                "start": goal.period_start,
                "end": goal.period_end,
                "days": (goal.period_end - goal.period_start).days + 1,
            },
            "fields_from": goal.fields_from,
        }
        pending = [d for d in page.decisions if d.status == Decision.Status.PENDING]
        context = {
            **self._base_context(request, gettext("Goal #%(id)s") % {"id": goal.pk}),
            "original": goal,
            "goal": goal,
            "understood": render_understood(understood_rows(understood)),
            **_plan_context(page),
            "revisions": _revision_rows(page),
            # The chart escapes every text it draws (goals.charts).
            "chart": mark_safe(chart.svg),  # noqa: S308
            "progress_figures": progress_figures(goal, page.forecast),
            "runs": [
                {
                    "day": run.day,
                    "title": page.catalogue_titles.get(run.action, run.action),
                    "attempt": run.attempt,
                    "status": run.get_status_display(),
                    "spend": amount_text(run.spend, currency=goal.currency, metric="revenue"),
                    "run_url": run.run_id
                    and reverse("admin:workflows_run_change", args=[run.run_id]),
                    "error": run.error,
                }
                for run in page.runs
            ],
            "decisions": [
                {
                    "title": d.title,
                    "status": d.get_status_display(),
                    "asked": _when(d.requested_at),
                    "decided": _when(d.decided_at),
                    "url": reverse("admin:decisions_decision_change", args=[d.pk]),
                    "pending": d.status == Decision.Status.PENDING,
                }
                for d in page.decisions
            ],
            "pending_decisions": len(pending),
            "queue_url": reverse("admin:decisions_queue"),
            "reports": [
                {
                    "kind": r.get_kind_display(),
                    "period": f"{r.period_start.isoformat()} – {r.period_end.isoformat()}",
                    "emailed": (
                        gettext("emailed %(when)s to %(count)s")
                        % {"when": _when(r.emailed_at), "count": r.recipients}
                        if r.emailed_at
                        else gettext("not emailed")
                    ),
                    "summary": r.figures.get("headline", "-"),
                }
                for r in page.reports
            ],
            "monitoring": _figures_rows(page),
            "can_cancel": request.user.has_perm(CANCEL_GOAL_PERMISSION)
            and Goal.transition_allowed(goal.status, Goal.Status.CANCELLED),
            "run_statuses": GoalRun.Status,
        }
        return TemplateResponse(request, "admin/goals/goal/page.html", context)

    def cancel_view(self, request: HttpRequest, goal_id: int) -> HttpResponse:
        """POST: cancel the goal through ``goal_cancel``, then back to its page."""
        goal = get_object_or_404(Goal, pk=goal_id)
        if not request.user.has_perm(CANCEL_GOAL_PERMISSION):
            raise PermissionDenied
        page_url = reverse("admin:goals_goal_change", args=[goal.pk])
        if request.method != "POST":
            return HttpResponseRedirect(page_url)
        try:
            goal_cancel(
                goal_id=goal.pk, actor=request.user, reason=request.POST.get("reason", "")[:500]
            )
        except GoalCancelError as exc:
            self.message_user(request, str(exc), level=messages.ERROR)
        else:
            self.message_user(request, gettext("Goal #%(id)s cancelled.") % {"id": goal.pk})
        return HttpResponseRedirect(page_url)

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
                error=gettext(
                    "The goal is %(length)s characters long; keep it under %(limit)s "
                    "(one sentence is enough)."
                )
                % {"length": f"{len(text):,}", "limit": f"{MAX_TEXT_CHARS:,}"},
            )
        if not text.strip():
            return self._form(
                request, text="", error=gettext("Type a goal, such as 1週間で200万作りたい.")
            )
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
                error=gettext(
                    "This confirmation is more than an hour old; type the goal again to "
                    "see a plan from today's figures."
                ),
            )
        except (signing.BadSignature, GoalServiceError, KeyError, TypeError, ValueError):
            return self._form(
                request,
                text="",
                error=gettext(
                    "This confirmation was changed or damaged, so nothing was saved; type "
                    "the goal again."
                ),
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
                gettext("Goal #%(id)s is planned and waits for decision #%(decision)s.")
                % {"id": goal.pk, "decision": saved.decision_id},
                level=messages.WARNING,
            )
        elif saved.held:
            self.message_user(
                request,
                gettext("Goal #%(id)s is saved but not started: %(why)s")
                % {"id": goal.pk, "why": saved.held},
                level=messages.WARNING,
            )
        else:
            self.message_user(
                request, gettext("Goal #%(id)s is active: its plan started.") % {"id": goal.pk}
            )
        return HttpResponseRedirect(reverse("admin:goals_goal_change", args=[goal.pk]))

    def _base_context(self, request: HttpRequest, title: str) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
        }

    def _form(self, request: HttpRequest, *, text: str, error: str) -> HttpResponse:
        context = {**self._base_context(request, gettext("New goal")), "text": text, "error": error}
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
        unit = gettext("people") if understanding.parsed.metric in COUNT_METRICS else currency
        context = {
            **self._base_context(request, gettext("Confirm the goal")),
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
        '<table class="goal-understood"><thead><tr><th>{}</th><th>{}</th>'
        "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
        gettext("field"),
        gettext("value"),
        gettext("where it came from"),
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
        '<p>{} <strong class="goal-daily-target">{}</strong> {}</p>'
        '<table class="goal-actions"><thead><tr><th>{}</th><th>{}</th>'
        "<th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody>"
        "</table>"
        '<p>{} <span class="goal-budget">{} {}</span></p>'
        '<h4>{}</h4><ul class="goal-risks">{}</ul>'
        '<h4>{}</h4><ul class="goal-assumptions">{}</ul></div>',
        gettext("Daily target:"),
        _grouped(plan.get("daily_target")),
        unit,
        gettext("workflow"),
        gettext("parameters"),
        gettext("per day"),
        gettext("expected per day"),
        gettext("cost"),
        actions,
        gettext("Budget estimate:"),
        _grouped(plan.get("budget_estimate")),
        currency,
        gettext("Risks"),
        risks or format_html("<li>{}</li>", gettext("none")),
        gettext("Assumptions"),
        assumptions or format_html("<li>{}</li>", gettext("none")),
    )


def _grouped(value: Any) -> str:
    """ "285715" → "285,715" (a major-unit string; decimals kept)."""
    if not isinstance(value, str) or not value.lstrip("-").replace(".", "", 1).isdigit():
        return str(value)
    whole, dot, rest = value.partition(".")
    return f"{int(whole):,}{dot}{rest}"
