"""The home page at ``/``: "how is it going, what do you need from me".

Five sections (Needs you, Goals, Studio, Workflows, and System for superusers), each a
partial with its own URL that htmx polls, so the page updates in place. The page is
the admin's (its header, its login, staff only) through ``admin.site.admin_view``.
The studio's buttons POST (with CSRF) to one view that calls the loop's services; the
views only read (``goals.selectors_home``), call a service and render.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from decisions.selectors import user_may_decide
from goals.charts_studio import studio_charts
from goals.selectors_home import (
    home_goals,
    home_needs_you,
    home_studio,
    home_system,
    home_workflows,
)
from goals.services.loop import (
    LoopControlBusy,
    LoopStartRefused,
    LoopTransitionRefused,
    loop_pause,
    loop_resume,
    loop_start,
    loop_stop,
)
from goals.wording import LOOP_BUSY_NOTICE
from ideas.selectors import theme_active

#: Who may press the studio's buttons: the loop panel's own permission.
LOOP_CHANGE_PERMISSION = "goals.change_loopstate"
#: How often each section asks for itself again (seconds).
POLL_SECONDS = 15


def _needs_you(request: HttpRequest) -> dict[str, Any]:
    return {
        "needs": home_needs_you(),
        "can_approve": user_may_decide(request.user),
        "can_view_decisions": request.user.has_perm("decisions.view_decision"),
        "can_change_tasks": request.user.has_perm("goals.change_task"),
    }


def _goals(request: HttpRequest) -> dict[str, Any]:
    rows, total = home_goals()
    return {"goal_rows": rows, "goals_total": total}


def _studio(request: HttpRequest) -> dict[str, Any]:
    return {
        "studio": home_studio(),
        "can_change_loop": request.user.has_perm(LOOP_CHANGE_PERMISSION),
    }


def _workflows(request: HttpRequest) -> dict[str, Any]:
    return {"workflows": home_workflows()}


def _system(request: HttpRequest) -> dict[str, Any]:
    if not request.user.is_superuser:
        raise PermissionDenied
    return {"system": home_system()}


#: Each section: its name in URLs and ids, its heading, and what it reads.
SECTIONS: dict[str, tuple[Any, Callable[[HttpRequest], dict[str, Any]]]] = {
    "needs-you": (gettext_lazy("Needs you"), _needs_you),
    "goals": (gettext_lazy("Goals"), _goals),
    "studio": (gettext_lazy("Studio"), _studio),
    "workflows": (gettext_lazy("Workflows"), _workflows),
    "system": (gettext_lazy("System"), _system),
}


def _visible_sections(request: HttpRequest) -> list[str]:
    return [name for name in SECTIONS if name != "system" or request.user.is_superuser]


def _section_context(request: HttpRequest, name: str, **extra: Any) -> dict[str, Any]:
    heading, read = SECTIONS[name]
    return {
        "section": name,
        "heading": heading,
        "body_template": f"home/{name}.html",
        "poll_seconds": POLL_SECONDS,
        **read(request),
        **extra,
    }


#: Rendered with the page itself: what a person came for, with or without JavaScript.
#: The others arrive by htmx right after, each its own request, so no one request reads
#: everything (each stays within the query budget; see benchmarks/admin.py).
FIRST_SECTION = "needs-you"


def home_view(request: HttpRequest) -> TemplateResponse:
    """The whole page: the header, "Needs you" rendered in place, and a box per other
    section that htmx fills at once and then keeps fresh."""
    sections = [
        render_to_string(
            "home/section.html",
            _section_context(request, name) if name == FIRST_SECTION else _lazy_context(name),
            request=request,
        )
        for name in _visible_sections(request)
    ]
    context = {
        **admin.site.each_context(request),
        "title": _("Home"),
        "sections": sections,
    }
    return TemplateResponse(request, "home/home.html", context)


def _lazy_context(name: str) -> dict[str, Any]:
    heading, _read = SECTIONS[name]
    return {"section": name, "heading": heading, "lazy": True, "poll_seconds": POLL_SECONDS}


def home_section_view(request: HttpRequest, section: str) -> TemplateResponse:
    """One section, as htmx polls it."""
    if section not in SECTIONS:
        raise Http404
    return TemplateResponse(request, "home/section.html", _section_context(request, section))


def home_studio_charts_view(request: HttpRequest) -> HttpResponse:
    """The studio's charts for the active theme, asked once by the studio section."""
    theme = theme_active()
    if theme is None:
        return HttpResponse("")
    return TemplateResponse(
        request, "home/studio_charts.html", {"charts": studio_charts(theme=theme)}
    )


_LOOP_ACTIONS = {"start", "stop", "pause", "resume"}


@require_POST
def home_loop_view(request: HttpRequest, action: str) -> HttpResponse:
    """A studio button: call the loop's service, then show the studio section again."""
    if action not in _LOOP_ACTIONS:
        raise Http404
    if not request.user.has_perm(LOOP_CHANGE_PERMISSION):
        raise PermissionDenied
    user = request.user
    notice = ""
    try:
        if action == "start":
            loop_start(actor=user)
        elif action == "stop":
            loop_stop(actor=user, reason=_("stopped on the home page by %(user)s") % {"user": user})
        elif action == "pause":
            loop_pause(actor=user, reason=_("paused on the home page by %(user)s") % {"user": user})
        else:
            loop_resume(actor=user)
    except LoopStartRefused:
        notice = _("The studio cannot start: no theme is loaded yet.")
    except LoopTransitionRefused as exc:
        notice = str(exc)
    except LoopControlBusy:
        notice = str(LOOP_BUSY_NOTICE)
    if not getattr(request, "htmx", False):
        return HttpResponseRedirect(reverse("home:home"))
    return TemplateResponse(
        request, "home/section.html", _section_context(request, "studio", notice=notice)
    )


def _staff(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    # The admin's own guard: staff only, the admin's login otherwise, never cached.
    return admin.site.admin_view(view)


app_name = "home"
urlpatterns = [
    path("", _staff(home_view), name="home"),
    path("home/<slug:section>/", _staff(home_section_view), name="section"),
    path("home/studio/charts/", _staff(home_studio_charts_view), name="studio-charts"),
    path("home/studio/loop/<slug:action>/", _staff(home_loop_view), name="loop"),
]
