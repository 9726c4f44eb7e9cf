"""How the decisions workflows asks for read to a business person.

Registered with ``decisions.presentation`` at start-up (imported from
``WorkflowsConfig.ready``): publishing a workflow, and a step that would send to many
people or delete many records.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from decisions.models import Decision, DecisionKind
from decisions.presentation import Framing, count_format, presenter_register, rows_from
from workflows.models import StepRun, Workflow
from workflows.services.definitions.publish import PUBLISH_ACTION
from workflows.services.governance import STEP_APPROVE_ACTION


@presenter_register(PUBLISH_ACTION)
def workflow_publish(decision: Decision) -> Framing:
    workflow = Workflow.objects.get(pk=decision.action_args["workflow_id"])
    steps = list(workflow.steps.values_list("name", "block"))
    new = decision.kind == DecisionKind.NEW_WORKFLOW
    summary = _(
        "Publish the workflow “%(name)s” (%(which)s): runs, schedules and goals may use it at once"
    ) % {
        "name": workflow.name,
        "which": _("new") if new else _("version %(v)s") % {"v": workflow.version},
    }
    return Framing(
        summary=summary,
        evidence=rows_from(
            [
                (_("Workflow"), workflow.name),
                (_("Version"), workflow.version),
                (_("First version ever published"), new),
                (_("Calls a new service"), decision.kind == DecisionKind.NEW_INTEGRATION),
                (_("Steps"), [f"{name} ({block})" for name, block in steps]),
            ]
        ),
    )


@presenter_register(STEP_APPROVE_ACTION)
def step_approve(decision: Decision) -> Framing:
    args = decision.action_args
    step_run = StepRun.objects.select_related("run__workflow", "step").get(pk=args["step_run_id"])
    run, step = step_run.run, step_run.step
    count = count_format(args.get("count", 0))
    values = {"count": count, "step": step.name, "workflow": run.workflow.name}
    if args.get("kind") == DecisionKind.MASS_DELETION:
        summary = _("Delete %(count)s records: step “%(step)s” of the workflow “%(workflow)s”")
        people = _("Records deleted")
    else:
        summary = _("Send to %(count)s people: step “%(step)s” of the workflow “%(workflow)s”")
        people = _("Recipients")
    return Framing(
        summary=summary % values,
        evidence=rows_from(
            [
                (_("Workflow"), f"{run.workflow.name} (v{run.workflow.version})"),
                (_("Run"), f"#{run.pk}"),
                (_("Test run"), run.is_test),
                (_("Step"), step.name),
                (people, count),
            ]
        ),
    )
