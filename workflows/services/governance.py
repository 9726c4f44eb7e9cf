"""Run-time governance: a step that would send to many recipients or delete many
records asks a person first.

A block states the bulk effect of its resolved config (``Block.effect``: the http
block from the author's ``effect`` key). Before the engine runs such a step it asks
``policy_check`` (``mass_send`` with the recipients, ``mass_deletion`` with the records):

* under the policy's lines the step runs at once (audited ``workflows.step_effect_allowed``);
* past them the step run goes ``waiting`` (its run too) and a Decision is requested
  with the action ``workflows.step_approve`` (handler in ``workflows/actions.py``),
  carrying the digest of the resolved config the person is shown. Approving moves the
  step run back to ``pending`` and queues it; it then runs without asking again for
  that digest (a changed config, say a variable set meanwhile, asks again);
* rejecting, letting the decision expire, or an approval that could not be applied
  fails the step ("a person refused: …"). The decisions app has no hook for a
  rejection, so the catch-up sweep (``workflows_catch_up``, every minute) notices the
  decision's terminal status: ``step_waits_settle``.

A tool call of an agent and a step of a subflow run inline inside their caller's
time limit and cannot wait hours for a person: past the lines they are refused
(a step error of class ``refused``) and the author makes the step a graph step.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from decisions.models import Decision, DecisionKind
from decisions.policy import ActionProposal, Verdict
from decisions.services import audit_log, decision_request, policy_check
from workflows.blocks.base import Block, BlockRefused, Effect
from workflows.errors import WorkflowStateError
from workflows.models import Run, Step, StepRun
from workflows.services.enqueue import step_runs_enqueue
from workflows.services.runs import run_end
from workflows.services.transitions import status_move

STEP_APPROVE_ACTION = "workflows.step_approve"
#: What a refused step records as its error class (``BlockRefused``'s).
REFUSED = BlockRefused.error_class
#: Decision statuses after which a waiting step will never be approved.
DECISION_ENDED = (
    Decision.Status.REJECTED,
    Decision.Status.EXPIRED,
    Decision.Status.CANCELLED,
    Decision.Status.FAILED,
)


@dataclass(frozen=True)
class StepAsk:
    """A step that must wait for a person: what it would do, and why it must ask."""

    effect: Effect
    proposal: ActionProposal
    verdict: Verdict
    #: The resolved config as stored and shown (secrets scrubbed), and its digest.
    config: dict[str, Any]
    digest: str


class StepMustAsk(Exception):
    """Raised by the gate to the executor: pause the step, do not record a failure.

    Not a ``BlockError``: nothing failed, and no retry policy applies."""

    def __init__(self, ask: StepAsk) -> None:
        super().__init__(f"step needs a person: {ask.verdict.reason}")
        self.ask = ask


def config_digest(config: Any) -> str:
    """SHA-256 of a resolved config as canonical JSON (what the person approves)."""
    canonical = json.dumps(
        config, sort_keys=True, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def effect_proposal(effect: Effect) -> ActionProposal:
    """The policy's view of a bulk effect: a mass send or a mass deletion."""
    if effect.kind == "send":
        return ActionProposal(
            kind="mass_send",
            summary=f"send to {effect.count} recipients: {effect.what}",
            recipients=effect.count,
        )
    return ActionProposal(
        kind="mass_deletion",
        summary=f"delete {effect.count} records: {effect.what}",
        records=effect.count,
    )


def _approved(*, step_run_id: int, digest: str) -> bool:
    return Decision.objects.filter(
        action=STEP_APPROVE_ACTION,
        status=Decision.Status.APPLIED,
        action_args__step_run_id=step_run_id,
        action_args__digest=digest,
    ).exists()


def step_effect_gate(
    *, step_run: StepRun, block: Block, config: dict[str, Any], input: Any, shown: dict[str, Any]
) -> None:
    """Let the step run, or raise ``StepMustAsk`` (a person decides) or ``BlockRefused``.

    Called by the executor after templates are resolved and before the block runs,
    with no transaction open. ``shown`` is the resolved config with secrets scrubbed:
    what is stored, shown to the person, and digested. A config a person approved
    (same step run, same digest) runs without asking again.
    """
    effect = block.effect(config, input if isinstance(input, dict) else {})
    if effect is None:
        return
    shown = json.loads(json.dumps(shown, cls=DjangoJSONEncoder))
    digest = config_digest(shown)
    if _approved(step_run_id=step_run.pk, digest=digest):
        return
    proposal = effect_proposal(effect)
    verdict = policy_check(proposal=proposal)
    data = {
        "step": step_run.step.name,
        "step_run": step_run.pk,
        "kind": proposal.kind,
        "count": effect.count,
        "what": effect.what,
        "rule": verdict.rule,
        "reason": verdict.reason,
    }
    if verdict.automatic:
        audit_log(action="workflows.step_effect_allowed", subject=step_run.run, data=data)
        return
    if step_run.parent_id is not None or step_run.run.parent_step_run_id is not None:
        raise BlockRefused(
            f"{verdict.reason}: a person must approve it, and a tool call or a subflow's "
            "step cannot wait for one (make it a step of a top-level workflow)"
        )
    raise StepMustAsk(
        StepAsk(effect=effect, proposal=proposal, verdict=verdict, config=shown, digest=digest)
    )


def _situation(run: Run, step: Step, ask: StepAsk) -> str:
    effect = ask.effect
    doing = (
        f"send to {effect.count} recipients"
        if effect.kind == "send"
        else f"delete {effect.count} records"
    )
    return "\n".join(
        [
            f"Run #{run.pk} of workflow {run.workflow.name!r} (v{run.workflow.version}"
            f"{', a test run' if run.is_test else ''}) reached step {step.name!r} "
            f"({step.block}), which would {doing}: {effect.what}.",
            f"Why a person decides: {ask.verdict.reason}.",
            "Approving runs the step with exactly the configuration shown on the step run; "
            "rejecting fails the step, and the run with it.",
        ]
    )


def step_wait(*, step_run: StepRun, owner: str, ask: StepAsk) -> bool:
    """RUNNING → WAITING for a person (the run goes waiting too) and request the decision.

    Under the lease, in one transaction with its audit rows: a worker that lost the
    step (cancelled, taken over) changes nothing and returns False. The claim's attempt
    is given back: waiting is not an attempt at running the block.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("workflow").get(pk=step_run.run_id)
        if not status_move(
            StepRun,
            pk=step_run.pk,
            sources=[StepRun.Status.RUNNING],
            target=StepRun.Status.WAITING,
            where=Q(lease_owner=owner),
            lease_owner="",
            lease_expires_at=None,
            input=ask.config,
            attempt=F("attempt") - 1,
        ):
            return False
        if run.status == Run.Status.RUNNING:
            status_move(Run, pk=run.pk, sources=[Run.Status.RUNNING], target=Run.Status.WAITING)
            audit_log(
                action="workflows.run_waiting",
                subject=run,
                data={"step": step_run.step.name, "step_run": step_run.pk},
            )
        step = step_run.step
        decision = decision_request(
            kind=ask.verdict.decision_kind
            if ask.verdict.decision_kind in DecisionKind.values
            else DecisionKind.OTHER,
            title=f"Let step {step.name} of {run.workflow.name} {ask.proposal.summary}"[:200],
            situation=_situation(run, step, ask),
            impact=ask.verdict.reason,
            options=[
                {
                    "key": "run",
                    "label": f"Run step {step.name}",
                    "impact": ask.proposal.summary[:500],
                    "recommended": False,
                },
                {
                    "key": "reject",
                    "label": "Do not run it",
                    "impact": "The step fails with your reason, and the run with it.",
                    "recommended": True,
                },
            ],
            action=STEP_APPROVE_ACTION,
            action_args={
                "step_run_id": step_run.pk,
                "run_id": run.pk,
                "digest": ask.digest,
                "kind": ask.proposal.kind,
                "count": ask.effect.count,
            },
            subject=step_run,
            requested_by=run.triggered_by,
        )
        audit_log(
            action="workflows.step_waiting",
            subject=run,
            data={
                "step": step.name,
                "step_run": step_run.pk,
                "decision": decision.pk,
                "kind": ask.proposal.kind,
                "count": ask.effect.count,
                "rule": ask.verdict.rule,
                "digest": ask.digest,
            },
        )
    return True


def step_approve_premise_failure(args: dict[str, Any]) -> str | None:
    """Why an approved step must not resume: it no longer waits, or its config changed."""
    step_run_id = args.get("step_run_id")
    step_run = (
        StepRun.objects.select_related("run").filter(pk=step_run_id).first()
        if isinstance(step_run_id, int)
        else None
    )
    if step_run is None:
        return f"step run #{args.get('step_run_id')} no longer exists"
    if step_run.status != StepRun.Status.WAITING:
        return f"step run #{step_run.pk} is {step_run.status}, no longer waiting"
    if step_run.run.status not in Run.OPEN_STATUSES:
        return f"its run #{step_run.run_id} is {step_run.run.status}"
    if config_digest(step_run.input) != args.get("digest"):
        return f"step run #{step_run.pk}'s configuration changed since it asked"
    return None


def _run_resume_if_clear(run: Run) -> None:
    """WAITING → RUNNING once no step of the run waits for a person any more."""
    still = StepRun.objects.filter(run=run, status=StepRun.Status.WAITING).exists()
    if run.status == Run.Status.WAITING and not still:
        status_move(Run, pk=run.pk, sources=[Run.Status.WAITING], target=Run.Status.RUNNING)
        audit_log(action="workflows.run_resumed", subject=run, data={})


def step_run_approved(*, step_run_id: int, digest: str, decision: Decision) -> StepRun:
    """A person approved the waiting step: WAITING → PENDING, queued on commit.

    Race-safe (the run row locked, the step run moved by compare-and-set): applied
    twice, the second finds it no longer waiting and raises ``WorkflowStateError``.
    """
    with transaction.atomic():
        step_run = StepRun.objects.select_related("run", "step").get(pk=step_run_id)
        run = Run.objects.select_for_update().select_related("workflow").get(pk=step_run.run_id)
        failure = step_approve_premise_failure({"step_run_id": step_run_id, "digest": digest})
        if failure:
            raise WorkflowStateError(failure)
        if not status_move(
            StepRun,
            pk=step_run_id,
            sources=[StepRun.Status.WAITING],
            target=StepRun.Status.PENDING,
            run_after=None,
        ):
            raise WorkflowStateError(f"step run #{step_run_id} is no longer waiting")
        audit_log(
            action="workflows.step_approved",
            actor=decision.decided_by,
            subject=run,
            data={"step": step_run.step.name, "step_run": step_run_id, "decision": decision.pk},
        )
        _run_resume_if_clear(run)
        step_runs_enqueue([step_run_id])
    step_run.refresh_from_db()
    return step_run


def _refusal(decision: Decision) -> str:
    if decision.status == Decision.Status.REJECTED:
        who = decision.decided_by.get_username() if decision.decided_by else "someone"
        said = f": {decision.comment}" if decision.comment else ""
        return f"a person refused: {who} rejected decision #{decision.pk}{said}"
    if decision.status == Decision.Status.EXPIRED:
        return f"a person refused: decision #{decision.pk} expired unanswered"
    return f"a person refused: decision #{decision.pk} ended {decision.status}: {decision.outcome}"


def step_run_refused(*, step_run_id: int, decision: Decision) -> bool:
    """The decision on a waiting step ended without approval: the step fails with the
    reason, and its run fails (a refused mass action is never silently skipped).
    False when the step run no longer waits."""
    reason = _refusal(decision)[:4000]
    with transaction.atomic():
        step_run = StepRun.objects.select_related("step").get(pk=step_run_id)
        run = Run.objects.select_for_update().select_related("workflow").get(pk=step_run.run_id)
        if not status_move(
            StepRun,
            pk=step_run_id,
            sources=[StepRun.Status.WAITING],
            target=StepRun.Status.FAILED,
            error_class=REFUSED,
            error_message=reason,
            finished_at=timezone.now(),
        ):
            return False
        audit_log(
            action="workflows.step_refused",
            actor=decision.decided_by,
            subject=run,
            data={"step": step_run.step.name, "step_run": step_run_id, "decision": decision.pk},
        )
        if run.status in Run.OPEN_STATUSES:
            run_end(
                run=run,
                status=Run.Status.FAILED,
                error=f"step {step_run.step.name} failed ({REFUSED}): {reason}",
            )
    return True


def step_waits_settle(*, now: datetime | None = None) -> list[int]:
    """Fail the waiting steps whose decision ended without approval (rejected, expired,
    cancelled, or its approval failed to apply); returns their ids. Run by the catch-up
    sweep: the decisions app tells no one when a decision is rejected."""
    settled: list[int] = []
    for step_run_id in StepRun.objects.filter(status=StepRun.Status.WAITING).values_list(
        "pk", flat=True
    ):
        decision = (
            Decision.objects.filter(
                action=STEP_APPROVE_ACTION, action_args__step_run_id=step_run_id
            )
            .select_related("decided_by")
            .order_by("-id")
            .first()
        )
        if (
            decision is not None
            and decision.status in DECISION_ENDED
            and step_run_refused(step_run_id=step_run_id, decision=decision)
        ):
            settled.append(step_run_id)
    return settled


__all__ = [
    "STEP_APPROVE_ACTION",
    "StepAsk",
    "StepMustAsk",
    "config_digest",
    "effect_proposal",
    "step_approve_premise_failure",
    "step_effect_gate",
    "step_run_approved",
    "step_run_refused",
    "step_wait",
    "step_waits_settle",
]
