"""``manage.py copilot --workflow ID [--user NAME] [--thread T] "message"``.

Asks the copilot (``copilot_ask``) as a person and prints its answer, the edits it made
to the draft and the validation after. The copilot always acts as a person (their
permissions apply to its edits): ``--user``, or the only active superuser when there is
exactly one. Exit status 1 when the copilot's run did not succeed.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from workflows.errors import RunInputInvalid, WorkflowStateError
from workflows.management.commands._language import StaffCommand
from workflows.models import Run, Workflow
from workflows.services.copilot import copilot_ask


class Command(StaffCommand):
    help = "Ask the copilot to read, fix or extend a workflow (it edits the draft only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("message", help="What you want done, in your words.")
        parser.add_argument("--workflow", type=int, required=True, help="The workflow's id.")
        parser.add_argument("--user", help="The person asking (username).")
        parser.add_argument("--thread", help="Go on with this thread (printed by each answer).")
        parser.add_argument("--json", action="store_true", help="Print the answer as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = _person(options.get("user"))
        try:
            answer = copilot_ask(
                user=user,
                workflow_id=options["workflow"],
                message=options["message"],
                thread=options.get("thread"),
            )
        except Workflow.DoesNotExist:
            raise CommandError(_("no workflow #%(id)s") % {"id": options["workflow"]}) from None
        except RunInputInvalid as invalid:
            raise CommandError("; ".join(p["message"] for p in invalid.problems)) from None
        except (PermissionDenied, WorkflowStateError) as refused:
            raise CommandError(str(refused)) from None
        if options["json"]:
            payload = {**answer.__dict__}
            self.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2))
        else:
            self.stdout.write(answer.text)
            self.stdout.write("")  # a blank line between the answer and its summary
            self.stdout.write(
                _("thread %(thread)s · run #%(run)s %(status)s")
                % {"thread": answer.thread, "run": answer.run_id, "status": answer.status}
            )
            self.stdout.write(_("Edits:") if answer.edits else _("Edits: none"))
            for edit in answer.edits:
                what = edit.get("step") or _edge(edit["edge"])
                self.stdout.write(f"  {edit['op']} {what}")
            if answer.rolled_back:
                self.stdout.write(_("The run's edits were undone: the draft is as it was."))
            if answer.validation:
                count = len(answer.validation)
                self.stdout.write(
                    ngettext(
                        "Validation: %(count)s problem", "Validation: %(count)s problems", count
                    )
                    % {"count": count}
                )
                for problem in answer.validation:
                    self.stdout.write(f"  {problem['code']} {problem['message']}")
            else:
                self.stdout.write(_("Validation: valid"))
        if answer.status != Run.Status.SUCCEEDED:
            raise SystemExit(1)


def _edge(edge: dict[str, str]) -> str:
    return f"{edge['from']}:{edge['port']} -> {edge['to']}"


def _person(username: str | None) -> User:
    if username:
        try:
            return User.objects.get(username=username, is_active=True)
        except User.DoesNotExist:
            raise CommandError(_("no active user named %(name)r") % {"name": username}) from None
    superusers = list(User.objects.filter(is_superuser=True, is_active=True)[:2])
    if len(superusers) != 1:
        raise CommandError(_("name the person the copilot acts as with --user"))
    return superusers[0]
