"""Runs in the admin: a list, a detail page with the step timeline (tool calls nested
under their agent step), and the cancel and retry-step actions, which call services.

People look here and act through the actions: runs are written only by the engine.
Cancelling needs ``workflows.change_run``; retrying a step starts work again, so it
needs ``workflows.execute_workflow`` as every endpoint that starts work does.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from bizagent.admin_base import ReadOnlyAdminMixin
from workflows.errors import WorkflowStateError
from workflows.models import Run
from workflows.selectors_runs import run_detail
from workflows.services.runs import run_cancel, step_run_retry

CANCEL_PERMISSION = "workflows.change_run"
RETRY_PERMISSION = "workflows.execute_workflow"


_ = gettext_lazy
#: How much of a failed run's error the list shows (the run's page has all of it).
REASON_CHARS = 140


def _duration(run: Run) -> str:
    if run.started_at is None:
        return "—"
    if run.finished_at is None:
        return gettext("running")
    seconds = (run.finished_at - run.started_at).total_seconds()
    if seconds < 120:
        return gettext("%(n).1f s") % {"n": seconds}
    return gettext("%(n).1f min") % {"n": seconds / 60}


def run_started_by(run: Run) -> str:
    """What started ``run`` in words: the trigger, the person, what it was about."""
    words = run.get_trigger_display()
    if run.triggered_by is not None:
        words = gettext("%(trigger)s, by %(person)s") % {
            "trigger": words,
            "person": run.triggered_by.get_username(),
        }
    if run.subject:
        words = gettext("%(who)s (%(subject)s)") % {"who": words, "subject": run.subject}
    return str(words)


def run_status_words(run: Run) -> str:
    """The status; for a failed run, the first line of its reason after it."""
    status = str(run.get_status_display())
    if run.status != Run.Status.FAILED or not run.error.strip():
        return status
    reason = run.error.strip().splitlines()[0]
    if len(reason) > REASON_CHARS:
        reason = reason[: REASON_CHARS - 1] + "…"
    return gettext("%(status)s: %(reason)s") % {"status": status, "reason": reason}


@admin.register(Run)
class RunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "workflow_version",
        "started_by",
        "status_reason",
        "created_at",
        "duration",
        "cost_shown",
        "tokens",
    )
    list_display_links = ("id", "workflow_version")
    list_filter = ("status", "trigger", "is_test")
    search_fields = ("workflow__key", "workflow__name", "subject")
    list_select_related = ("workflow", "triggered_by")
    # Newest first: the run a person is looking for is almost always a recent one.
    ordering = ("-created_at",)
    actions = ["cancel_runs"]
    fields = (
        "workflow",
        "status",
        "trigger",
        "triggered_by",
        "subject",
        "is_test",
        "input",
        "output",
        "vars",
        "error",
        "parent_step_run",
        "depth",
        "prompt_tokens",
        "completion_tokens",
        "cost",
        "created_at",
        "started_at",
        "finished_at",
        "deadline_at",
    )
    readonly_fields = fields
    change_form_template = "admin/workflows/run/change_form.html"

    @admin.display(description=_("workflow"), ordering="workflow__name")
    def workflow_version(self, obj: Run) -> str:
        return gettext("%(name)s v%(version)s") % {
            "name": obj.workflow.name,
            "version": obj.workflow.version,
        }

    @admin.display(description=_("started by"), ordering="trigger")
    def started_by(self, obj: Run) -> str:
        return run_started_by(obj)

    @admin.display(description=_("status"), ordering="status")
    def status_reason(self, obj: Run) -> str:
        return run_status_words(obj)

    @admin.display(description=_("cost"), ordering="cost")
    def cost_shown(self, obj: Run) -> str:
        return f"{obj.cost.normalize():f}" if obj.cost else "0"

    @admin.display(description=_("duration"))
    def duration(self, obj: Run) -> str:
        return _duration(obj)

    @admin.display(description=_("tokens"))
    def tokens(self, obj: Run) -> int:
        return obj.prompt_tokens + obj.completion_tokens

    @admin.action(description=_("Cancel the selected runs"))
    def cancel_runs(self, request: HttpRequest, queryset: QuerySet[Run]) -> None:
        if not request.user.has_perm(CANCEL_PERMISSION):
            raise PermissionDenied
        done = skipped = 0
        for run in queryset.filter(status__in=Run.OPEN_STATUSES):
            try:
                run_cancel(run_id=run.pk, actor=request.user)
                done += 1
            except WorkflowStateError:
                skipped += 1  # it finished meanwhile
        self.message_user(
            request,
            ngettext(
                "Cancelled %(done)s run; %(skipped)s had already finished.",
                "Cancelled %(done)s runs; %(skipped)s had already finished.",
                done,
            )
            % {"done": done, "skipped": skipped},
        )

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        run = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if run is not None:
            context["timeline"] = run_detail(run_id=run.pk)["step_runs"]
            context["run_open"] = run.status in Run.OPEN_STATUSES
            context["run_failed"] = run.status == Run.Status.FAILED
            context["may_cancel"] = request.user.has_perm(CANCEL_PERMISSION)
            context["may_retry"] = request.user.has_perm(RETRY_PERMISSION)
        return super().change_view(request, object_id, form_url, context)

    def get_urls(self) -> list[Any]:
        site = self.admin_site
        return [
            path(
                "<int:run_id>/cancel/",
                site.admin_view(require_POST(self.cancel_view)),
                name="workflows_run_cancel",
            ),
            path(
                "<int:run_id>/retry-step/<int:step_run_id>/",
                site.admin_view(require_POST(self.retry_step_view)),
                name="workflows_run_retry_step",
            ),
            *super().get_urls(),
        ]

    def _back(self, run_id: int) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:workflows_run_change", args=[run_id]))

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        if not request.user.has_perm(CANCEL_PERMISSION):
            raise PermissionDenied
        try:
            run_cancel(run_id=run_id, actor=request.user)
            self.message_user(request, gettext("The run was cancelled."))
        except WorkflowStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return self._back(run_id)

    def retry_step_view(self, request: HttpRequest, run_id: int, step_run_id: int) -> HttpResponse:
        if not request.user.has_perm(RETRY_PERMISSION):
            raise PermissionDenied
        try:
            step_run = step_run_retry(step_run_id=step_run_id, actor=request.user)
            if step_run.run_id != run_id:
                raise WorkflowStateError("that step belongs to another run")
            self.message_user(
                request, gettext("Step %(step)s is queued again.") % {"step": step_run.step.name}
            )
        except WorkflowStateError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return self._back(run_id)
