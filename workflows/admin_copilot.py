"""The copilot's chat panel on a workflow's admin page (htmx).

The panel shows this person's thread about this workflow version (the copilot's own
conversation memory, oldest first), a text box, and after each message the answer, the
edits it made to the draft as a diff of steps and edges, and a link to the draft's
validation result. The view is thin: it parses the form, calls ``copilot_ask`` (which
checks permissions, runs the copilot's system workflow and waits, bounded) and renders.

Every failure the handler reports (model down, budget spent, a refused edit, bad input,
a system workflow in focus) is shown in the panel with its reason; it never becomes a
500. Only people who may change workflows see the panel or may post to it.

Model text is rendered as CommonMark by markdown-it-py with raw HTML off, images off
(an answer cannot make the browser fetch anything) and markdown-it's refusal of
``javascript:``/``vbscript:``/``data:`` links; everything else on the panel is escaped
by the template engine. Markdown rather than plain escaped text because the model
answers with lists and code spans, which read far better rendered.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from bizagent.rendering import HtmxHttpRequest, markdown_render
from workflows.errors import RunInputInvalid, WorkflowStateError
from workflows.models import MemoryMessage, Run, Workflow
from workflows.services.copilot import MESSAGE_MAX, CopilotAnswer, copilot_ask

CHANGE = "workflows.change_workflow"
VIEW = "workflows.view_workflow"
#: The panel keeps one thread per person and workflow version: the same thread every
#: time the page is opened, so the conversation carries on.
PANEL_THREAD = "panel"
#: How many of the thread's newest messages the panel shows.
THREAD_SHOWN = 50


class CopilotForm(forms.Form):
    message = forms.CharField(max_length=MESSAGE_MAX, strip=True)


def copilot_can_use(user: Any, workflow: Workflow) -> bool:
    """Whether ``user`` gets the panel on ``workflow``'s page (not on system workflows)."""
    return bool(user.has_perm(VIEW) and user.has_perm(CHANGE) and not workflow.is_system)


def memory_key(*, user_id: int, workflow_id: int, thread: str) -> str:
    """The copilot's memory key for a thread (the template in ``copilot.json``'s
    ``history``/``remember`` steps: ``copilot-{user}-{workflow}-{thread}``)."""
    return f"copilot-{user_id}-{workflow_id}-{thread}"


def copilot_thread(*, user_id: int, workflow_id: int) -> list[dict[str, Any]]:
    """The panel thread's newest messages, oldest first, assistant text rendered."""
    newest = MemoryMessage.objects.filter(
        key=memory_key(user_id=user_id, workflow_id=workflow_id, thread=PANEL_THREAD)
    ).order_by("-id")[:THREAD_SHOWN]
    rows: list[dict[str, Any]] = [
        {
            "role": message.role,
            "content": message.content,
            "html": markdown_render(message.content) if message.role == "assistant" else None,
        }
        for message in newest
    ]
    rows.reverse()
    return rows


def _flat(value: Any, prefix: str = "") -> dict[str, str]:
    """A step document as ``{"config.url": '"https://…"'}``: one readable line per leaf."""
    if isinstance(value, dict) and value:
        flat: dict[str, str] = {}
        for key, item in value.items():
            flat.update(_flat(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    return {prefix: json.dumps(value, ensure_ascii=False, sort_keys=True)}


def step_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, str]]:
    """What changed in one step: ``{field, before, after}`` per differing leaf (``-`` = absent)."""
    old, new = _flat(before), _flat(after)
    return [
        {"field": name, "before": old.get(name, "-"), "after": new.get(name, "-")}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    ]


# What an edit did, in words (the template keys its styling on the untranslated verb).
_EDIT_LABELS = {
    ("step", "added"): gettext_lazy("step added"),
    ("step", "removed"): gettext_lazy("step removed"),
    ("step", "changed"): gettext_lazy("step changed"),
    ("edge", "added"): gettext_lazy("edge added"),
    ("edge", "removed"): gettext_lazy("edge removed"),
}


def edits_readable(edits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The handler's edit records as the panel lists them: what, which, and how."""
    rows: list[dict[str, Any]] = []
    for edit in edits:
        op = edit["op"]
        if op.startswith("edge_"):
            edge = edit["edge"]
            rows.append(
                {
                    "op": op,
                    "kind": "edge",
                    "verb": "added" if op == "edge_added" else "removed",
                    "name": f"{edge['from']} —{edge['port']}→ {edge['to']}",
                    "changes": [],
                    "label": _EDIT_LABELS[("edge", "added" if op == "edge_added" else "removed")],
                }
            )
            continue
        document = edit["after"] or edit["before"] or {}
        verb = {"step_added": "added", "step_deleted": "removed"}.get(op, "changed")
        # Added: every field of the new step; removed: every field it had; changed:
        # only the fields that differ, before → after.
        changes = step_changes(edit["before"] or {}, edit["after"] or {})
        rows.append(
            {
                "op": op,
                "kind": "step",
                "verb": verb,
                "name": f"{edit['step']} ({document.get('block', '?')})",
                "changes": changes,
                "label": _EDIT_LABELS[("step", verb)],
            }
        )
    return rows


def _result(answer: CopilotAnswer) -> dict[str, Any]:
    succeeded = answer.status == Run.Status.SUCCEEDED
    return {
        "html": markdown_render(answer.text) if succeeded else None,
        "error": None if succeeded else answer.text,
        "run_id": answer.run_id,
        "edits": edits_readable(answer.edits),
        "validation": answer.validation,
        "draft_id": answer.draft_id,
        "rolled_back": answer.rolled_back,
    }


def copilot_panel_view(
    request: HtmxHttpRequest, workflow_id: int, *, admin_site: admin.AdminSite
) -> HttpResponse:
    """GET: the panel. POST: ask the copilot, then the panel with the answer and its edits."""
    workflow = Workflow.objects.filter(pk=workflow_id).first()
    if workflow is None or not copilot_can_use(request.user, workflow):
        raise PermissionDenied
    result: dict[str, Any] | None = None
    message = ""
    if request.method == "POST":
        form = CopilotForm(request.POST)
        if not form.is_valid():
            errors = [str(error) for error in form.errors.get("message") or ["invalid"]]
            result = {"error": gettext("Message: %(errors)s") % {"errors": " ".join(errors)}}
            message = request.POST.get("message", "")[:MESSAGE_MAX]
        else:
            result = _ask(request, workflow, form.cleaned_data["message"])
            if result.get("error") and not result.get("run_id"):
                message = form.cleaned_data["message"]  # nothing ran: keep what was typed
        if not request.htmx:
            # The plain form POST (no JavaScript): the outcome as a message on the page.
            level = messages.ERROR if result.get("error") else messages.SUCCESS
            messages.add_message(
                request, level, result.get("error") or gettext("The copilot answered.")
            )
            return HttpResponseRedirect(
                reverse(f"{admin_site.name}:workflows_workflow_change", args=[workflow.pk])
                + "#copilot-panel"
            )
    context = copilot_panel_context(request, workflow, result=result, message=message)
    return TemplateResponse(request, "workflows/copilot_panel.html", context)


def _ask(request: HttpRequest, workflow: Workflow, message: str) -> dict[str, Any]:
    try:
        answer = copilot_ask(
            user=request.user,  # type: ignore[arg-type]  # admin_view: a logged-in User
            workflow_id=workflow.pk,
            message=message,
            thread=PANEL_THREAD,
        )
    except RunInputInvalid as exc:
        return {"error": "; ".join(p["message"] for p in exc.problems)}
    except (WorkflowStateError, PermissionDenied) as exc:
        return {"error": str(exc) or gettext("You may not use the copilot on this workflow.")}
    return _result(answer)


def copilot_panel_context(
    request: HttpRequest,
    workflow: Workflow,
    *,
    result: dict[str, Any] | None = None,
    message: str = "",
) -> dict[str, Any]:
    """What ``workflows/copilot_panel.html`` renders (the change page includes it too)."""
    return {
        "workflow": workflow,
        "thread": copilot_thread(user_id=int(request.user.pk or 0), workflow_id=workflow.pk),
        "result": result,
        "message": message,
        "message_max": MESSAGE_MAX,
    }
