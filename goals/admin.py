"""Admin: the task queue, the iteration log and the loop panel. Thin: services do the work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from bizagent.admin_base import NoAddDeleteAdminMixin, ReadOnlyAdminMixin
from goals import admin_catalogue, admin_goals, admin_studio  # noqa: F401  (register the catalogue, goal pages)
from goals.models import PLAN, Iteration, LoopState, Task
from goals.selectors import loop_status, status_lines, tasks_blocked
from goals.services import (
    TaskTransitionError,
    loop_pause,
    loop_resume,
    task_drop,
    task_requeue,
    task_retry,
)
from goals.services.queue import TASK_CHANGE_PERMISSION


def blocked_work_context(request: HttpRequest) -> dict[str, Any]:
    """What the "Blocked work: needs you" section of the admin index shows."""
    return {
        "blocked_tasks": tasks_blocked(),
        "can_change_tasks": request.user.has_perm(TASK_CHANGE_PERMISSION),
        "request": request,
    }


@admin.register(Task)
class TaskAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "priority",
        "attempts",
        "lease_losses",
        "lease_owner",
        "lease_expires_at",
        "created_at",
        "last_run_at",
    )
    list_filter = ("status", "kind", "theme")
    search_fields = ("brief", "last_error", "dedupe_key")
    ordering = ("status", "-priority", "created_at")
    readonly_fields = [f.name for f in Task._meta.fields] + ["related_ideas"]
    exclude = ("ideas",)
    actions = ("requeue",)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("blocked/", wrap(self.blocked_partial), name="goals_task_blocked"),
            path(
                "<int:task_id>/retry/",
                wrap(require_POST(self.retry_view)),
                name="goals_task_retry",
            ),
            path(
                "<int:task_id>/drop/",
                wrap(require_POST(self.drop_view)),
                name="goals_task_drop",
            ),
            *super().get_urls(),
        ]

    def blocked_partial(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return TemplateResponse(
            request, "goals/blocked_work_partial.html", blocked_work_context(request)
        )

    def _blocked_act(
        self, request: HttpRequest, task_id: int, service: Callable[..., Task], done: str
    ) -> HttpResponse:
        if not request.user.has_perm(TASK_CHANGE_PERMISSION):
            raise PermissionDenied
        task = Task.objects.filter(pk=task_id).first()
        if task is None:
            notice, level = (
                gettext("task %(id)s no longer exists") % {"id": task_id},
                messages.WARNING,
            )
        else:
            try:
                service(task=task, actor=request.user)
                notice, level = done % {"id": task_id}, messages.SUCCESS
            except TaskTransitionError as exc:
                notice, level = str(exc), messages.WARNING
        if getattr(request, "htmx", False):
            context = {**blocked_work_context(request), "notice": notice}
            return TemplateResponse(request, "goals/blocked_work_partial.html", context)
        self.message_user(request, notice, level)
        return HttpResponseRedirect(reverse("admin:index"))

    def retry_view(self, request: HttpRequest, task_id: int) -> HttpResponse:
        return self._blocked_act(
            request, task_id, task_retry, gettext("task %(id)s is back in the queue")
        )

    def drop_view(self, request: HttpRequest, task_id: int) -> HttpResponse:
        return self._blocked_act(request, task_id, task_drop, gettext("task %(id)s was dropped"))

    @admin.display(description=_("ideas"))
    def related_ideas(self, obj: Task) -> str:
        return ", ".join(f"#{i.pk} {i.title}" for i in obj.ideas.all()) or "-"

    @admin.action(description=_("Put back in the queue (blocked or failed tasks)"))
    def requeue(self, request: HttpRequest, queryset: QuerySet[Task]) -> None:
        if not request.user.has_perm("goals.change_task"):
            raise PermissionDenied
        done, refused = 0, []
        for task in queryset:
            try:
                task_requeue(task=task, actor=request.user)
                done += 1
            except TaskTransitionError as exc:
                refused.append(str(exc))
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)s task back in the queue.", "%(count)s tasks back in the queue.", done
                )
                % {"count": done},
                messages.SUCCESS,
            )
        for reason in refused:
            self.message_user(request, reason, messages.WARNING)

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        if not request.user.has_perm("goals.change_task"):
            actions.pop("requeue", None)
        return actions


@admin.register(Iteration)
class IterationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "number",
        "theme",
        "task_link",
        "role",
        "mode",
        "outcome",
        "error_class",
        "prompt_tokens",
        "completion_tokens",
        "prefix_shared_tokens",
        "model_calls",
        "duration_ms",
        "started_at",
    )
    # A date filter instead of a date hierarchy (a DISTINCT over every row's date).
    list_filter = (
        ("started_at", admin.DateFieldListFilter),
        "role",
        "mode",
        "outcome",
        "error_class",
        "theme",
    )
    list_select_related = ("theme",)
    search_fields = ("final", "error_detail")
    fields = (
        ("number", "theme", "task", "task_kind"),
        ("role", "mode", "outcome", "error_class"),
        "error_detail",
        ("prompt_tokens", "completion_tokens", "cached_tokens", "prefix_shared_tokens"),
        ("model_calls", "duration_ms", "similarity", "worker"),
        "calls_table",
        "normalisations_list",
        ("started_at", "finished_at"),
        "analysis_collapsed",
        "final_text",
        "tool_calls",
        "parsed",
        "result",
    )

    @admin.display(description=_("task"))
    def task_link(self, obj: Iteration) -> str:
        if obj.task_id is None:
            return obj.task_kind or PLAN
        url = reverse("admin:goals_task_change", args=[obj.task_id])
        return format_html('<a href="{}">#{} {}</a>', url, obj.task_id, obj.task_kind)

    @admin.display(description=_("analysis (the model's reasoning)"))
    def analysis_collapsed(self, obj: Iteration) -> str:
        if not obj.analysis:
            return "-"
        return format_html(
            '<details class="goals-analysis"><summary>Show analysis ({} characters)</summary>'
            '<pre style="white-space: pre-wrap">{}</pre></details>',
            len(obj.analysis),
            obj.analysis,
        )

    @admin.display(description=_("model calls (tokens billed per call)"))
    def calls_table(self, obj: Iteration) -> str:
        if not obj.calls:
            return "-"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    call.get("purpose", ""),
                    call.get("prompt_tokens", 0),
                    call.get("completion_tokens", 0),
                    "-" if call.get("cached_tokens") is None else call["cached_tokens"],
                    call.get("attempts", 1),
                    call.get("error_class") or "ok",
                )
                for call in obj.calls
            ),
        )
        return format_html(
            '<table class="goals-calls"><thead><tr><th>call</th><th>prompt</th>'
            "<th>completion</th><th>cached</th><th>attempts</th><th>result</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description=_("normalised instead of a repair call"))
    def normalisations_list(self, obj: Iteration) -> str:
        if not obj.normalisations:
            return "-"
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((n,) for n in obj.normalisations))
        )

    @admin.display(description=_("final"))
    def final_text(self, obj: Iteration) -> str:
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', obj.final or "-")

    def get_readonly_fields(self, request: HttpRequest, obj: Iteration | None = None) -> list[str]:
        names: list[str] = []
        for entry in self.fields:
            names.extend(entry if isinstance(entry, tuple) else (entry,))
        return names


@admin.register(LoopState)
class LoopPanelAdmin(NoAddDeleteAdminMixin, admin.ModelAdmin):
    """The loop panel: the changelist is a live page, refreshed by htmx every 5 s."""

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path("panel/", wrap(self.panel_partial), name="goals_loopstate_panel"),
            path("pause/", wrap(require_POST(self.pause_view)), name="goals_loopstate_pause"),
            path("resume/", wrap(require_POST(self.resume_view)), name="goals_loopstate_resume"),
            *admin_studio.studio_urls(self),  # the studio page (goals/admin_studio.py)
            *super().get_urls(),
        ]

    def _context(self, request: HttpRequest) -> dict[str, Any]:
        status = loop_status()
        return {
            "status": status,
            "lines": status_lines(status),
            "can_change": self.has_change_permission(request),
            "last_iteration": status.last_iteration,
        }

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            **self._context(request),
            "title": _("Agent loop"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "goals/loop_panel.html", context)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # The state changes only through its services (the panel's buttons), never a form.
        return HttpResponseRedirect(reverse("admin:goals_loopstate_changelist"))

    def panel_partial(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return TemplateResponse(request, "goals/loop_panel_partial.html", self._context(request))

    def _back(self, request: HttpRequest) -> HttpResponse:
        if getattr(request, "htmx", False):
            return TemplateResponse(
                request, "goals/loop_panel_partial.html", self._context(request)
            )
        return HttpResponseRedirect(reverse("admin:goals_loopstate_changelist"))

    def pause_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        reason = (request.POST.get("reason") or "").strip()[:500]
        loop_pause(reason=reason or f"paused in the admin by {request.user}", actor=request.user)
        return self._back(request)

    def resume_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_change_permission(request):
            raise PermissionDenied
        loop_resume(actor=request.user)
        return self._back(request)


# The MetricSnapshot admin lives apart (manual entry form); importing registers it.
from goals import admin_snapshots  # noqa: E402, F401
