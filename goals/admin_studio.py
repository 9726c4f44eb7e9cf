"""The studio page: steer the idea studio without a shell.

Start, stop, pause and resume the loop (the services ``runloop`` calls), take a portfolio
snapshot now and read the latest one as a page, and create a budget from the active
theme's constraints. Thin views: every write is a service that locks, checks and audits.

Who may do what follows the model permissions: the page needs ``goals.view_loopstate``,
the loop buttons ``goals.change_loopstate``, a snapshot ``ideas.add_snapshot`` (reading
it ``ideas.view_snapshot``), a budget ``decisions.add_budget``; a refusal names the one
that is missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from bizagent.admin_base import permission_refused
from bizagent.rendering import markdown_render
from decisions.models import Budget, Period
from decisions.services import budget_create
from goals.selectors import loop_status, status_lines
from goals.services import (
    LoopControlBusy,
    LoopStartRefused,
    loop_pause,
    loop_resume,
    loop_start,
    loop_state_get,
    loop_stop,
)
from goals.wording import LOOP_BUSY_NOTICE
from ideas.models import Snapshot, Theme
from ideas.selectors import snapshot_latest, theme_active
from ideas.services import snapshot_create

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.urls import URLPattern

_ = gettext_lazy

#: A theme's budget period (ideas/schemas/theme_config) as a ``decisions.Budget`` period.
#: A year or the whole project has no Budget period yet: the page says so.
THEME_PERIODS = {
    "day": Period.DAILY,
    "week": Period.WEEKLY,
    "month": Period.MONTHLY,
    "quarter": Period.QUARTERLY,
}

LOOP_ACTIONS = ("start", "stop", "pause", "resume")


@dataclass(frozen=True)
class ThemeBudget:
    """The budget a theme's constraints ask for, and why it cannot be made if it cannot."""

    amount: Decimal
    currency: str
    theme_period: str
    period: str
    refusal: str
    existing: Budget | None

    @property
    def period_label(self) -> str:
        return str(Period(self.period).label) if self.period else self.theme_period


def theme_budget(theme: Theme) -> ThemeBudget | None:
    """What ``theme.constraints.budget`` asks for, read for the page and the POST alike."""
    wanted = theme.constraints.get("budget")
    if not wanted:
        return None
    theme_period = str(wanted["period"])
    period = THEME_PERIODS.get(theme_period, "")
    refusal = (
        ""
        if period
        else gettext(
            "A budget per %(period)s cannot be created yet: budgets run per day, week, "
            "month or quarter."
        )
        % {"period": theme_period}
    )
    existing = (
        Budget.objects.filter(
            scope_type__app_label="ideas",
            scope_type__model="theme",
            scope_id=theme.pk,
            period=period,
            currency=wanted["currency"],
            active=True,
        ).first()
        if period
        else None
    )
    return ThemeBudget(
        amount=Decimal(str(wanted["amount"])),
        currency=str(wanted["currency"]),
        theme_period=theme_period,
        period=period,
        refusal=refusal,
        existing=existing,
    )


def _refused(request: HttpRequest, admin: ModelAdmin, what: str, permission: str) -> HttpResponse:
    return permission_refused(request, admin=admin, what=what, permission=permission)


def _back() -> HttpResponse:
    return HttpResponseRedirect(reverse("admin:goals_studio"))


def studio_view(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The studio: loop state and its buttons, snapshots, the theme's budget."""
    if not request.user.has_perm("goals.view_loopstate"):
        return _refused(request, admin, gettext("seeing the studio"), "goals.view_loopstate")
    status = loop_status()
    theme = status.theme
    state = status.state.state
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.opts,
        "title": gettext("Studio"),
        "status": status,
        "lines": status_lines(status),
        "theme": theme,
        "latest": snapshot_latest(),
        "budget": theme_budget(theme) if theme is not None else None,
        "can_loop": request.user.has_perm("goals.change_loopstate"),
        "can_snapshot": request.user.has_perm("ideas.add_snapshot"),
        "can_budget": request.user.has_perm("decisions.add_budget"),
        # Only the buttons the loop's transitions allow from where it is now.
        "buttons": {
            "start": state in ("stopped", "paused"),
            "pause": state in ("running", "backing_off"),
            "resume": state == "paused",
            "stop": state != "stopped",
        },
    }
    return TemplateResponse(request, "admin/goals/studio/studio.html", context)


def studio_loop_view(admin: ModelAdmin, request: HttpRequest, action: str) -> HttpResponse:
    """POST start/stop/pause/resume through the loop services, audited under the person."""
    if not request.user.has_perm("goals.change_loopstate"):
        return _refused(
            request, admin, gettext("starting or stopping the studio"), "goals.change_loopstate"
        )
    who = request.user.get_username()
    try:
        if action == "start":
            try:
                loop_start(actor=request.user)
            except (LoopStartRefused, ImproperlyConfigured) as exc:
                messages.error(request, gettext("The studio did not start: %(why)s") % {"why": exc})
                return _back()
        elif action == "stop":
            loop_stop(actor=request.user, reason=f"stopped in the studio page by {who}")
        elif action == "pause":
            loop_pause(actor=request.user, reason=f"paused in the studio page by {who}")
        else:
            loop_resume(actor=request.user)
    except LoopControlBusy:
        messages.error(request, str(LOOP_BUSY_NOTICE))
        return _back()
    state = loop_state_get()
    messages.success(
        request, gettext("The studio is %(state)s.") % {"state": state.get_state_display().lower()}
    )
    return _back()


def studio_snapshot_view(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """POST: a portfolio snapshot of the active theme at the loop's current iteration."""
    if not request.user.has_perm("ideas.add_snapshot"):
        return _refused(request, admin, gettext("taking a snapshot"), "ideas.add_snapshot")
    theme = theme_active()
    if theme is None:
        messages.error(request, gettext("There is no active theme to take a snapshot of."))
        return _back()
    count = loop_state_get().iterations_total
    # Snapshots are one per theme and iteration count (the loop's tick is idempotent);
    # without a new iteration since, "now" is the one already taken.
    taken = Snapshot.objects.filter(theme=theme, iteration_count=count).exists()
    snapshot_create(theme=theme, iteration_count=count, actor=request.user)
    if taken:
        messages.info(
            request,
            gettext("No iteration since the last snapshot (iteration %(n)d): here it is.")
            % {"n": count},
        )
    else:
        messages.success(request, gettext("Snapshot taken at iteration %(n)d.") % {"n": count})
    return HttpResponseRedirect(reverse("admin:goals_studio_snapshot_latest"))


def studio_snapshot_latest_view(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """The latest snapshot as a page: its Markdown rendered without raw HTML."""
    if not request.user.has_perm("ideas.view_snapshot"):
        return _refused(request, admin, gettext("reading snapshots"), "ideas.view_snapshot")
    snapshot = snapshot_latest()
    context = {
        **admin.admin_site.each_context(request),
        "opts": admin.opts,
        "title": gettext("Latest snapshot"),
        "snapshot": snapshot,
        "body": markdown_render(snapshot.markdown) if snapshot else "",
    }
    return TemplateResponse(request, "admin/goals/studio/snapshot.html", context)


def studio_budget_view(admin: ModelAdmin, request: HttpRequest) -> HttpResponse:
    """POST: the active theme's budget (amount, currency, period) through ``budget_create``."""
    if not request.user.has_perm("decisions.add_budget"):
        return _refused(request, admin, gettext("creating a budget"), "decisions.add_budget")
    theme = theme_active()
    wanted = theme_budget(theme) if theme is not None else None
    if theme is None or wanted is None:
        messages.error(request, gettext("The active theme sets no budget."))
        return _back()
    if wanted.refusal:
        messages.error(request, wanted.refusal)
        return _back()
    try:
        budget = budget_create(
            name=gettext("Theme: %(name)s") % {"name": theme.name},
            limit=wanted.amount,
            period=wanted.period,
            currency=wanted.currency,
            scope=theme,
            actor=request.user,
        )
    except (ValidationError, IntegrityError):
        # The one-active-budget-per-scope rule (checked by full_clean, then by the
        # database for a simultaneous click): the budget is already there.
        messages.error(
            request,
            gettext("This theme already has an active %(period)s budget in %(currency)s.")
            % {"period": wanted.period_label.lower(), "currency": wanted.currency},
        )
        return _back()
    messages.success(request, gettext("Budget created: %(budget)s.") % {"budget": budget})
    return _back()


def studio_urls(admin: ModelAdmin) -> list[URLPattern]:
    """The studio pages, for ``LoopPanelAdmin.get_urls`` (before its object URLs)."""
    wrap = admin.admin_site.admin_view

    def loop(request: HttpRequest, action: str) -> HttpResponse:
        return studio_loop_view(admin, request, action)

    def call(view: Any) -> Any:
        return lambda request: view(admin, request)

    return [
        path("studio/", wrap(call(studio_view)), name="goals_studio"),
        *(
            path(
                f"studio/{action}/",
                wrap(require_POST(lambda r, action=action: loop(r, action))),
                name=f"goals_studio_{action}",
            )
            for action in LOOP_ACTIONS
        ),
        path(
            "studio/snapshot/",
            wrap(require_POST(call(studio_snapshot_view))),
            name="goals_studio_snapshot",
        ),
        path(
            "studio/snapshot/latest/",
            wrap(call(studio_snapshot_latest_view)),
            name="goals_studio_snapshot_latest",
        ),
        path(
            "studio/budget/",
            wrap(require_POST(call(studio_budget_view))),
            name="goals_studio_budget",
        ),
    ]
