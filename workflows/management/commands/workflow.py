"""``manage.py workflow``: ``import FILE [--publish]``, ``export ID``, ``validate FILE``,
``run ID --input JSON [--wait]``.

Thin: parse, call a service or selector, print. A document with problems prints every
problem on stderr, one per line (``CODE step path: message``), exits 2 and saves
nothing. The command acts as the system (no person): what it publishes still goes
through governance.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from workflows.errors import Problem, RunInputInvalid, WorkflowInvalid, WorkflowStateError
from workflows.management.commands._language import StaffCommand
from workflows.models import Run, RunTrigger, Workflow
from workflows.selectors import (
    document_problems,
    publish_decision_pending,
    run_waiting_decisions,
    workflow_document,
)
from workflows.services.definitions import workflow_create, workflow_publish
from workflows.services.execution import run_execute_here
from workflows.services.runs import run_start

#: Exit status for a document or input with problems (argparse's "usage" status).
INVALID = 2
FAILED = 1
#: The run waits for a person's decision (a step asked first).
WAITING = 3


def problem_line(p: Problem) -> str:
    return f"{p['code']} {p.get('step') or '-'} {p.get('path') or '-'}: {p['message']}"


class Command(StaffCommand):
    help = "Import, export, validate and run workflows."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        imp = actions.add_parser("import", help="Create a draft from a document file.")
        imp.add_argument("file", help="JSON document ('-' for stdin is not supported).")
        imp.add_argument("--publish", action="store_true", help="Publish it (governance decides).")
        exp = actions.add_parser("export", help="Print a workflow version's document.")
        exp.add_argument("id", type=int)
        val = actions.add_parser("validate", help="Check a document file; saves nothing.")
        val.add_argument("file")
        run = actions.add_parser("run", help="Start a run of a workflow version.")
        run.add_argument("id", type=int)
        run.add_argument("--input", default="{}", help="The run's input as a JSON object.")
        run.add_argument("--wait", action="store_true", help="Wait and print its output.")
        run.add_argument(
            "--timeout", type=float, default=None, help="Seconds to wait (default: its timeout)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "import":
            self._import(Path(options["file"]), publish=options["publish"])
        elif action == "export":
            self._export(options["id"])
        elif action == "validate":
            self._validate(Path(options["file"]))
        elif action == "run":
            self._run(
                options["id"], options["input"], wait=options["wait"], timeout=options["timeout"]
            )

    # -- the actions ----------------------------------------------------------------------

    def _invalid(self, problems: list[Problem], what: str) -> CommandError:
        for p in problems:
            self.stderr.write(problem_line(p))
        return CommandError(
            ngettext("%(what)s: %(count)s problem", "%(what)s: %(count)s problems", len(problems))
            % {"what": what, "count": len(problems)},
            returncode=INVALID,
        )

    def _read(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise CommandError(
                _("cannot read %(path)s: %(reason)s") % {"path": path, "reason": exc.strerror}
            ) from None
        except json.JSONDecodeError as exc:
            raise self._invalid(
                [
                    Problem(
                        code="JSON",
                        message=f"not JSON: {exc.msg}",
                        step=None,
                        path=f"line {exc.lineno} column {exc.colno}",
                    )
                ],
                _("%(path)s not read") % {"path": path},
            ) from None

    def _import(self, path: Path, *, publish: bool) -> None:
        document = self._read(path)
        try:
            workflow = workflow_create(document=document, actor=None)
        except WorkflowInvalid as exc:
            raise self._invalid(exc.problems, _("not imported, nothing saved")) from None
        self.stdout.write(str(workflow.pk))
        if not publish:
            return
        try:
            workflow = workflow_publish(workflow_id=workflow.pk, actor=None)
        except (WorkflowInvalid, WorkflowStateError) as exc:
            raise CommandError(
                _("imported as draft #%(id)s; not published: %(reason)s")
                % {"id": workflow.pk, "reason": exc}
            ) from None
        if workflow.status == Workflow.Status.PUBLISHED:
            self.stdout.write(
                _("published %(key)s v%(version)s")
                % {"key": workflow.key, "version": workflow.version}
            )
        else:
            decision = publish_decision_pending(workflow=workflow)
            words = {"key": workflow.key, "version": workflow.version}
            if decision is not None:
                text = _(
                    "waiting for approval: decision #%(decision)s decides whether "
                    "%(key)s v%(version)s is published"
                ) % {**words, "decision": decision.pk}
            else:
                text = (
                    _(
                        "waiting for approval: a decision decides whether %(key)s v%(version)s"
                        " is published"
                    )
                    % words
                )
            self.stdout.write(text)

    def _export(self, workflow_id: int) -> None:
        workflow = Workflow.objects.filter(pk=workflow_id).first()
        if workflow is None:
            raise CommandError(f"no workflow #{workflow_id}")
        document = workflow_document(workflow=workflow)
        self.stdout.write(json.dumps(document, indent=2, ensure_ascii=False))

    def _validate(self, path: Path) -> None:
        problems = document_problems(document=self._read(path))
        if problems:
            raise self._invalid(problems, _("not valid"))
        self.stdout.write(_("valid"))

    def _run(self, workflow_id: int, raw: str, *, wait: bool, timeout: float | None) -> None:
        workflow = Workflow.objects.filter(pk=workflow_id).first()
        if workflow is None:
            raise CommandError(f"no workflow #{workflow_id}")
        try:
            run_input = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(
                _("--input is not JSON: %(reason)s") % {"reason": exc.msg}, returncode=INVALID
            ) from None
        try:
            run = run_start(
                workflow=workflow,
                input=run_input,
                triggered_by=None,
                trigger=RunTrigger.COMMAND,
                subject="command",
            )
        except RunInputInvalid as exc:
            raise self._invalid(exc.problems, _("not started")) from None
        except WorkflowStateError as exc:
            raise CommandError(_("not started: %(reason)s") % {"reason": exc}) from None
        if not wait:
            self.stdout.write(str(run.pk))
            return
        # Driven from here, so --wait needs no worker running (one running beside it
        # is safe: leases keep every step to one executor).
        run = run_execute_here(run_id=run.pk, timeout=timeout or workflow.timeout_seconds)
        if run.status in (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_SUCCEEDED):
            self.stdout.write(json.dumps(run.output, indent=2, ensure_ascii=False))
            return
        if run.status == Run.Status.WAITING:
            waiting = ", ".join(
                _("decision #%(id)s") % {"id": pk} for pk in run_waiting_decisions(run=run)
            )
            raise CommandError(
                _(
                    "run #%(id)s waits for a person to decide (%(decisions)s); "
                    "it goes on once approved"
                )
                % {"id": run.pk, "decisions": waiting or _("a decision")},
                returncode=WAITING,
            )
        reason = run.error or _("it is %(status)s") % {"status": run.status}
        raise CommandError(
            _("run #%(id)s %(status)s: %(reason)s")
            % {"id": run.pk, "status": run.status, "reason": reason},
            returncode=FAILED,
        )
