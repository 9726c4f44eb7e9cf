"""The workflow definitions in the admin: a list, and a read-only page per version with
its steps, edges and drawn graph, and buttons to publish, retire, validate and run.

"Test run" (execute permission) opens a form with the run's input as JSON, pre-filled
from the input schema; a draft runs as a test run, a published version as a real run
(``run_start``, trigger admin). Bad JSON or input that misses the schema shows every
problem on the form and starts nothing; a started run opens on its page (timeline).

People look here and act through the buttons, which call the services (publishing goes
through governance there). Editing a document happens through ``workflow import`` or the
REST API, where the one validator answers with every problem at once.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from bizagent.admin_base import ReadOnlyAdminMixin
from workflows.admin_copilot import copilot_can_use, copilot_panel_context, copilot_panel_view
from workflows.errors import RunInputInvalid, WorkflowInvalid, WorkflowStateError
from workflows.graph_svg import workflow_graph_svg
from workflows.models import RunTrigger, Workflow
from workflows.schema_example import schema_example
from workflows.selectors import (
    document_problems,
    publish_decision_pending,
    publish_decisions,
    workflow_document,
)
from workflows.services.definitions import workflow_publish, workflow_retire
from workflows.services.runs import run_start

CHANGE = "workflows.change_workflow"
EXECUTE = "workflows.execute_workflow"
#: The versions the run button starts: a draft as a test run, a published one for real.
RUNNABLE = (Workflow.Status.DRAFT, Workflow.Status.PUBLISHED)


class RunInputForm(forms.Form):
    input = forms.CharField(
        label=_("Input (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "spellcheck": "false"}),
        help_text=_("A JSON object matching the workflow's input schema."),
    )

    def clean_input(self) -> dict[str, Any]:
        text = self.cleaned_data["input"]
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                gettext("Not JSON: %(reason)s at line %(line)s, column %(column)s.")
                % {"reason": exc.msg, "line": exc.lineno, "column": exc.colno}
            ) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(
                gettext("The input must be a JSON object, not %(type)s.")
                % {"type": type(value).__name__}
            )
        return value


def _problems_text(problems: list[Any]) -> str:
    return "; ".join(
        f"{p['code']} {p.get('step') or '-'} {p.get('path') or '-'}: {p['message']}"
        for p in problems
    )


@admin.register(Workflow)
class WorkflowAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("name", "key", "version", "status", "steps_count", "is_system", "updated_at")
    list_filter = ("status", "is_system")
    search_fields = ("name", "key", "description")
    ordering = ("key", "-version")
    change_form_template = "workflows/admin/workflow_change_form.html"
    actions = ("publish_selected", "retire_selected", "validate_selected")
    fieldsets = (
        (None, {"fields": ("name", "key", "version", "status", "description", "is_system")}),
        (_("Graph"), {"fields": ("graph",)}),
        (_("Steps and edges"), {"fields": ("steps_table", "edges_table")}),
        (_("Validation"), {"fields": ("validation",)}),
        (_("Interface"), {"fields": ("input_schema", "output", "timeout_seconds")}),
        (
            _("History"),
            {"fields": ("publish_decision", "created_by", "created_at", "published_at")},
        ),
    )
    readonly_fields = (
        "name",
        "key",
        "version",
        "status",
        "description",
        "is_system",
        "graph",
        "steps_table",
        "edges_table",
        "validation",
        "input_schema",
        "output",
        "timeout_seconds",
        "publish_decision",
        "created_by",
        "created_at",
        "published_at",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workflow]:
        return super().get_queryset(request).annotate(steps_total=Count("steps"))

    @admin.display(description=_("steps"), ordering="steps_total")
    def steps_count(self, obj: Workflow) -> int:
        return getattr(obj, "steps_total", None) or obj.steps.count()

    # -- the document, read-only --------------------------------------------------------

    @admin.display(description=_("graph"))
    def graph(self, obj: Workflow) -> SafeString:
        # workflow_graph_svg escapes every piece of text it draws.
        return mark_safe(workflow_graph_svg(workflow_document(workflow=obj)))  # noqa: S308

    @admin.display(description=_("steps"))
    def steps_table(self, obj: Workflow) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            (
                (
                    s.name,
                    s.block,
                    gettext("tool only") if s.tool_only else "",
                    s.get_on_error_display(),
                    s.config,
                )
                for s in obj.steps.order_by("position", "id")
            ),
        )
        return format_html(
            '<table class="workflow-steps"><thead><tr><th>{}</th><th>{}</th><th></th>'
            "<th>{}</th><th>{}</th></tr></thead><tbody>{}</tbody></table>",
            gettext("name"),
            gettext("block"),
            gettext("on error"),
            gettext("config"),
            rows,
        )

    @admin.display(description=_("edges"))
    def edges_table(self, obj: Workflow) -> SafeString:
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (e.source.name, e.port, e.target.name)
                for e in obj.edges.select_related("source", "target").order_by("id")
            ),
        )
        return format_html(
            '<table class="workflow-edges"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
            "</tr></thead><tbody>{}</tbody></table>",
            gettext("from"),
            gettext("port"),
            gettext("to"),
            rows,
        )

    @admin.display(description=_("validation"))
    def validation(self, obj: Workflow) -> SafeString:
        # The validator's answer on this version (the copilot panel links here).
        problems = document_problems(document=workflow_document(workflow=obj))
        if not problems:
            return format_html(
                '<p id="workflow-validation" class="workflow-valid">{}</p>', gettext("Valid.")
            )
        rows = format_html_join(
            "",
            "<li><code>{}</code> {} {}: {}</li>",
            (
                (p["code"], p.get("step") or "-", p.get("path") or "-", p["message"])
                for p in problems
            ),
        )
        return format_html(
            '<div id="workflow-validation" class="workflow-invalid"><p>{}</p><ul>{}</ul></div>',
            ngettext("%(count)s problem:", "%(count)s problems:", len(problems))
            % {"count": len(problems)},
            rows,
        )

    @admin.display(description=_("publish decision"))
    def publish_decision(self, obj: Workflow) -> SafeString | str:
        decision = publish_decisions(workflow=obj).first()
        if decision is None:
            return "-"
        url = reverse("admin:decisions_decision_change", args=[decision.pk])
        return format_html(
            '<a href="{}">#{}</a> ({})', url, decision.pk, decision.get_status_display()
        )

    # -- buttons on the change page -------------------------------------------------------

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CHANGE)

    def has_execute_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXECUTE)

    def get_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:workflow_id>/publish/",
                wrap(require_POST(self.publish_view)),
                name="workflows_workflow_publish",
            ),
            path(
                "<int:workflow_id>/retire/",
                wrap(require_POST(self.retire_view)),
                name="workflows_workflow_retire",
            ),
            path(
                "<int:workflow_id>/validate/",
                wrap(require_POST(self.validate_view)),
                name="workflows_workflow_validate",
            ),
            path(
                "<int:workflow_id>/copilot/",
                wrap(self.copilot_view),
                name="workflows_workflow_copilot",
            ),
            path(
                "<int:workflow_id>/run/",
                wrap(self.run_view),
                name="workflows_workflow_run",
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "can_publish": self.has_publish_permission(request),
            "can_run": self.has_execute_permission(request),
            "runnable": RUNNABLE,
        }
        workflow = Workflow.objects.filter(pk=object_id).first() if object_id.isdigit() else None
        if workflow is not None and copilot_can_use(request.user, workflow):
            context["copilot"] = copilot_panel_context(request, workflow)
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _back(self, workflow_id: int) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:workflows_workflow_change", args=[workflow_id]))

    def _publish_one(self, request: HttpRequest, workflow: Workflow) -> None:
        try:
            result = workflow_publish(workflow_id=workflow.pk, actor=request.user)
        except WorkflowInvalid as exc:
            self.message_user(
                request,
                gettext("%(workflow)s not published: %(problems)s")
                % {"workflow": workflow, "problems": _problems_text(exc.problems)},
                messages.ERROR,
            )
            return
        except (WorkflowStateError, PermissionDenied) as exc:
            self.message_user(
                request,
                gettext("%(workflow)s not published: %(reason)s")
                % {"workflow": workflow, "reason": exc},
                messages.ERROR,
            )
            return
        if result.status == Workflow.Status.PUBLISHED:
            self.message_user(
                request,
                gettext("%(workflow)s is published.") % {"workflow": result},
                messages.SUCCESS,
            )
            return
        decision = publish_decision_pending(workflow=result)
        if decision is not None:
            text = gettext(
                "%(workflow)s is waiting for approval: decision #%(decision)s decides whether"
                " it is published."
            ) % {"workflow": result, "decision": decision.pk}
        else:
            text = gettext(
                "%(workflow)s is waiting for approval: a decision decides whether it is published."
            ) % {"workflow": result}
        self.message_user(request, text, messages.WARNING)

    def _retire_one(self, request: HttpRequest, workflow: Workflow) -> None:
        try:
            result = workflow_retire(workflow_id=workflow.pk, actor=request.user)
        except (WorkflowStateError, PermissionDenied) as exc:
            self.message_user(
                request,
                gettext("%(workflow)s not retired: %(reason)s")
                % {"workflow": workflow, "reason": exc},
                messages.ERROR,
            )
            return
        self.message_user(
            request, gettext("%(workflow)s is retired.") % {"workflow": result}, messages.SUCCESS
        )

    def _validate_one(self, request: HttpRequest, workflow: Workflow) -> None:
        problems = document_problems(document=workflow_document(workflow=workflow))
        if problems:
            self.message_user(
                request,
                gettext("%(workflow)s is not valid: %(problems)s")
                % {"workflow": workflow, "problems": _problems_text(problems)},
                messages.ERROR,
            )
        else:
            self.message_user(
                request,
                gettext("%(workflow)s is valid.") % {"workflow": workflow},
                messages.SUCCESS,
            )

    def _one(self, request: HttpRequest, workflow_id: int) -> Workflow:
        workflow = Workflow.objects.filter(pk=workflow_id).first()
        if workflow is None or not self.has_view_permission(request, workflow):
            raise PermissionDenied
        return workflow

    def publish_view(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        self._publish_one(request, self._one(request, workflow_id))
        return self._back(workflow_id)

    def retire_view(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        self._retire_one(request, self._one(request, workflow_id))
        return self._back(workflow_id)

    def validate_view(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        self._validate_one(request, self._one(request, workflow_id))
        return self._back(workflow_id)

    def copilot_view(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        """The copilot's chat panel (``workflows.admin_copilot``)."""
        return copilot_panel_view(request, workflow_id, admin_site=self.admin_site)  # type: ignore[arg-type]

    def run_view(self, request: HttpRequest, workflow_id: int) -> HttpResponse:
        """The test-run form (GET) and starting the run (POST): parse, call, render."""
        workflow = self._one(request, workflow_id)
        if not self.has_execute_permission(request):
            raise PermissionDenied
        problems: list[str] = []
        if request.method == "POST":
            form = RunInputForm(request.POST)
            if form.is_valid():
                try:
                    run = run_start(
                        workflow=workflow,
                        input=form.cleaned_data["input"],
                        triggered_by=request.user,
                        trigger=RunTrigger.ADMIN,
                        test=workflow.status != Workflow.Status.PUBLISHED,
                    )
                except RunInputInvalid as exc:
                    problems = [f"{p['path'] or 'input'}: {p['message']}" for p in exc.problems]
                except WorkflowStateError as exc:
                    problems = [str(exc)]
                else:
                    started = (
                        gettext("Test run #%(run)s of %(workflow)s started.")
                        if run.is_test
                        else gettext("Run #%(run)s of %(workflow)s started.")
                    )
                    self.message_user(request, started % {"run": run.pk, "workflow": workflow})
                    return HttpResponseRedirect(
                        reverse("admin:workflows_run_change", args=[run.pk])
                    )
        else:
            example = schema_example(workflow.input_schema) or {}
            form = RunInputForm(
                initial={"input": json.dumps(example, indent=2, ensure_ascii=False)}
            )
        context = {
            **self.admin_site.each_context(request),
            "title": (
                gettext("Run %(workflow)s")
                if workflow.status == Workflow.Status.PUBLISHED
                else gettext("Test run %(workflow)s")
            )
            % {"workflow": workflow},
            "opts": self.model._meta,
            "original": workflow,
            "form": form,
            "problems": problems,
            "is_test": workflow.status != Workflow.Status.PUBLISHED,
            "input_schema": json.dumps(workflow.input_schema, indent=2, ensure_ascii=False),
        }
        return TemplateResponse(request, "workflows/admin/workflow_run.html", context)

    # -- the same, on the list ------------------------------------------------------------

    @admin.action(description=_("Publish selected workflows"), permissions=["publish"])
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            self._publish_one(request, workflow)

    @admin.action(description=_("Retire selected workflows"), permissions=["publish"])
    def retire_selected(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            self._retire_one(request, workflow)

    @admin.action(description=_("Validate selected workflows"), permissions=["view"])
    def validate_selected(self, request: HttpRequest, queryset: QuerySet[Workflow]) -> None:
        for workflow in queryset:
            self._validate_one(request, workflow)
