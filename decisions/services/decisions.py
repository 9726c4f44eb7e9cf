"""Decision transitions: request, approve, reject, cancel. Each is guarded, race-safe
(a compare-and-set on the status inside a transaction) and audited in the same
transaction; mails and the approved action are enqueued only after commit."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from decisions.actions import UnknownAction, action_get, action_premise_failure
from decisions.actors import Actor, Person
from decisions.models import Decision, DecisionKind, DecisionOption, Urgency
from decisions.selectors import user_may_decide
from decisions.services.audit import audit_log
from decisions.services.enqueue import task_enqueue


class DecisionNotPending(ValidationError):
    """The decision is no longer waiting for an answer (someone else was faster)."""


class DecisionPremiseFailed(ValidationError):
    """What the decision assumed no longer holds, so approving it would act on a stale
    picture (e.g. it proposes a change "from 0.60" and the value is now 0.31)."""


# A request that keeps losing the insert to concurrent newer proposals gives up.
REQUEST_ATTEMPTS = 5


def action_args_normalise(args: dict[str, Any] | None) -> dict[str, Any]:
    """The arguments exactly as the JSON column will give them back."""
    if args is None:
        return {}
    if not isinstance(args, dict):
        raise ValidationError({"action_args": "The action's arguments must be a JSON object."})
    try:
        return json.loads(json.dumps(args, cls=DjangoJSONEncoder, ensure_ascii=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError({"action_args": f"Not JSON-serialisable: {exc}"}) from exc


def action_digest(action: str, args: dict[str, Any]) -> str:
    """SHA-256 of the action's name and its exact arguments (canonical JSON)."""
    canonical = json.dumps(
        {"action": action, "args": args},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        cls=DjangoJSONEncoder,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _options_build(options: list[dict[str, Any]]) -> list[DecisionOption]:
    if not options:
        raise ValidationError({"options": "A decision needs at least one option."})
    built: list[DecisionOption] = []
    for number, raw in enumerate(options, start=1):
        missing = {"key", "label"} - set(raw)
        if missing:
            raise ValidationError(
                {"options": f"Option {number} lacks {', '.join(sorted(missing))}."}
            )
        option = DecisionOption(
            key=str(raw["key"]),
            label=str(raw["label"]),
            impact=str(raw.get("impact", "")),
            recommended=bool(raw.get("recommended", False)),
        )
        option.full_clean(exclude=["decision"])
        built.append(option)
    keys = [option.key for option in built]
    if len(set(keys)) != len(keys):
        raise ValidationError({"options": f"Option keys must be unique: {', '.join(keys)}."})
    if sum(option.recommended for option in built) != 1:
        raise ValidationError({"options": "Exactly one option must be recommended."})
    return built


def option_proceeds(key: str) -> bool:
    """Whether choosing this option runs the action. The key ``reject`` means "do not"."""
    return key != "reject"


def _pending_for(digest: str) -> Decision | None:
    return Decision.objects.filter(action_digest=digest, status=Decision.Status.PENDING).first()


def decision_request(
    *,
    kind: str,
    title: str,
    situation: str,
    options: list[dict[str, Any]],
    action: str,
    action_args: dict[str, Any] | None = None,
    impact: str = "",
    urgency: str = Urgency.NORMAL,
    subject: models.Model | None = None,
    requested_by: Person | None = None,
    model_analysis: str = "",
    due_at: datetime | None = None,
    now: datetime | None = None,
) -> Decision:
    """Ask people to decide on ``action``; idempotent per action and exact arguments.

    Asking again while a decision for the same action digest is pending returns that
    decision. A new proposal on the same subject and action (other arguments)
    supersedes the pending older ones in the same transaction: they end
    ``superseded``, pointing at the new one, audited, and their approvers are told. At
    most one stays pending per subject and action (a database constraint), even with
    concurrent requests. Approvers are mailed after commit.
    """
    now = now or timezone.now()
    if kind not in DecisionKind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; use one of {DecisionKind.values}."})
    if urgency not in Urgency.values:
        raise ValidationError({"urgency": f"Unknown urgency {urgency!r}; use {Urgency.values}."})
    try:
        action_get(action)
    except UnknownAction as exc:
        raise ValidationError({"action": str(exc)}) from None
    args = action_args_normalise(action_args)
    digest = action_digest(action, args)
    existing = _pending_for(digest)
    if existing is not None:
        return existing
    built = _options_build(options)
    decision = Decision(
        kind=kind,
        title=title,
        situation=situation,
        impact=impact,
        urgency=urgency,
        recommendation=next(option.key for option in built if option.recommended),
        model_analysis=model_analysis,
        action=action,
        action_args=args,
        action_digest=digest,
        requested_by=requested_by if getattr(requested_by, "is_authenticated", False) else None,
        requested_at=now,
        due_at=due_at or now + timedelta(hours=settings.DECISION_TIMEOUT_HOURS),
    )
    if subject is not None:
        decision.subject_type = ContentType.objects.get_for_model(subject, for_concrete_model=False)
        decision.subject_id = str(subject.pk)
        decision.subject_repr = str(subject)[:200]
    # The one-pending-per-digest and per-subject-and-action constraints are left to the
    # database: a concurrent request that wins between our lookup and our insert shows
    # up as IntegrityError below.
    decision.full_clean(validate_constraints=False)
    for _ in range(REQUEST_ATTEMPTS - 1):
        try:
            return _request_save(decision, built=built, now=now)
        except IntegrityError:
            winner = _pending_for(digest)
            if winner is not None:
                return winner  # a concurrent request for the same action won
            # A concurrent newer proposal on the same subject was inserted first: try
            # again, superseding it in turn (the last request wins).
            decision.pk = None
            decision._state.adding = True
    try:
        return _request_save(decision, built=built, now=now)
    except IntegrityError:
        winner = _pending_for(digest)
        if winner is None:
            raise
        return winner


def _supersede_older(decision: Decision, *, now: datetime) -> list[Decision]:
    """Mark the pending decisions on ``decision``'s subject and action superseded.

    Runs inside the request's transaction, before its insert (the constraint allows one
    pending per subject and action); ``superseded_by`` is set once it has a key.
    """
    if decision.subject_type_id is None:
        return []
    older = list(
        Decision.objects.select_for_update()
        .filter(
            status=Decision.Status.PENDING,
            subject_type_id=decision.subject_type_id,
            subject_id=decision.subject_id,
            action=decision.action,
        )
        .exclude(action_digest=decision.action_digest)
    )
    superseded = []
    for old in older:
        # Compare-and-set as well: on databases without row locks the status guard
        # keeps a concurrent approval and this supersession from both winning.
        won = Decision.objects.filter(pk=old.pk, status=Decision.Status.PENDING).update(
            status=Decision.Status.SUPERSEDED,
            decided_at=now,
            outcome="Superseded by a newer proposal on the same subject: the action was not run.",
        )
        if won == 1:
            superseded.append(old)
    return superseded


def _request_save(decision: Decision, *, built: list[DecisionOption], now: datetime) -> Decision:
    with transaction.atomic():
        superseded = _supersede_older(decision, now=now)
        decision.save()
        for old in superseded:
            Decision.objects.filter(pk=old.pk).update(
                superseded_by=decision,
                outcome=f"Superseded by decision #{decision.pk}: the action was not run.",
            )
            audit_log(
                action="decisions.decision_superseded",
                actor=decision.requested_by,
                subject=old,
                data={
                    "superseded_by": decision.pk,
                    "action": old.action,
                    "digest": old.action_digest,
                    "new_digest": decision.action_digest,
                },
            )
            transaction.on_commit(
                functools.partial(
                    task_enqueue, "decisions.tasks.decision_notify_task", old.pk, "superseded"
                )
            )
        options = [
            DecisionOption(
                decision=decision,
                key=option.key,
                label=option.label,
                impact=option.impact,
                recommended=option.recommended,
            )
            for option in built
        ]
        DecisionOption.objects.bulk_create(options)
        audit_log(
            action="decisions.decision_requested",
            actor=decision.requested_by,
            subject=decision,
            data={
                "kind": decision.kind,
                "title": decision.title,
                "action": decision.action,
                "digest": decision.action_digest,
                "due_at": decision.due_at,
                "urgency": decision.urgency,
                **({"supersedes": [old.pk for old in superseded]} if superseded else {}),
            },
        )
        transaction.on_commit(
            lambda: task_enqueue("decisions.tasks.decision_notify_task", decision.pk, "requested")
        )
    return decision


def _locked_pending(decision_id: int, now: datetime) -> Decision:
    decision = Decision.objects.select_for_update().filter(pk=decision_id).first()
    if decision is None:
        raise Decision.DoesNotExist(f"no decision #{decision_id}")
    if decision.status == Decision.Status.SUPERSEDED and decision.superseded_by_id:
        raise DecisionNotPending(
            f"Decision #{decision_id} was superseded by decision "
            f"#{decision.superseded_by_id}, a newer proposal on the same subject."
        )
    if decision.status != Decision.Status.PENDING:
        raise DecisionNotPending(f"Decision #{decision_id} is {decision.status}, not pending.")
    if now >= decision.due_at:
        raise DecisionNotPending(f"Decision #{decision_id} is past its due time.")
    return decision


def _require_approver(user: Actor) -> None:
    # The one approver rule (``decisions.selectors``), the same the mail and links use.
    if not user_may_decide(user):
        raise PermissionDenied("Deciding needs the decisions.approve_decision permission.")


def _compare_and_set(decision: Decision, **fields: Any) -> None:
    # The status filter makes the write lose gracefully on databases without row locks.
    changed = Decision.objects.filter(pk=decision.pk, status=Decision.Status.PENDING).update(
        **fields
    )
    if changed != 1:
        raise DecisionNotPending(f"Decision #{decision.pk} was decided by someone else.")
    for name, value in fields.items():
        setattr(decision, name, value)


def decision_approve(
    *,
    decision_id: int,
    user: Actor,
    option_key: str = "",
    comment: str = "",
    digest: str = "",
    via: str = "api",
    now: datetime | None = None,
) -> Decision:
    """Approve a pending decision with one of its proceeding options.

    ``digest``, when given, is the action digest the approver saw: approving a decision
    whose proposed action changed since is refused. The action runs after commit.
    """
    _require_approver(user)
    now = now or timezone.now()
    with transaction.atomic():
        decision = _locked_pending(decision_id, now)
        if digest and digest != decision.action_digest:
            raise ValidationError("The proposed action changed since you opened it; reload it.")
        premise = action_premise_failure(decision.action, decision.action_args)
        if premise:
            raise DecisionPremiseFailed(
                f"Decision #{decision_id} cannot be approved: its premise no longer holds: "
                f"{premise}."
            )
        keys = list(decision.options.values_list("key", flat=True))
        proceeding = [key for key in keys if option_proceeds(key)]
        if not option_key and len(proceeding) == 1:
            option_key = proceeding[0]
        if option_key not in keys:
            raise ValidationError(f"Choose one of the options: {', '.join(proceeding)}.")
        if not option_proceeds(option_key):
            raise ValidationError(f"Option {option_key!r} means not to proceed: reject instead.")
        _compare_and_set(
            decision,
            status=Decision.Status.APPROVED,
            chosen_option=option_key,
            comment=comment[:5000],
            decided_by=user,
            decided_at=now,
        )
        audit_log(
            action="decisions.decision_approved",
            actor=user,
            subject=decision,
            data={
                "option": option_key,
                "comment": comment[:500],
                "digest": decision.action_digest,
                "via": via,
            },
        )
        transaction.on_commit(
            lambda: task_enqueue("decisions.tasks.decision_apply_task", decision.pk)
        )
        transaction.on_commit(
            lambda: task_enqueue("decisions.tasks.decision_notify_task", decision.pk, "outcome")
        )
    return decision


def decision_reject(
    *,
    decision_id: int,
    user: Actor,
    comment: str = "",
    option_key: str = "",
    via: str = "api",
    now: datetime | None = None,
) -> Decision:
    """Reject a pending decision: its action never runs."""
    _require_approver(user)
    now = now or timezone.now()
    with transaction.atomic():
        decision = _locked_pending(decision_id, now)
        if option_key and not decision.options.filter(key=option_key).exists():
            raise ValidationError(f"Decision #{decision_id} has no option {option_key!r}.")
        _compare_and_set(
            decision,
            status=Decision.Status.REJECTED,
            chosen_option=option_key,
            comment=comment[:5000],
            decided_by=user,
            decided_at=now,
            outcome="Rejected: the action was not run.",
        )
        audit_log(
            action="decisions.decision_rejected",
            actor=user,
            subject=decision,
            data={"comment": comment[:500], "option": option_key, "via": via},
        )
        transaction.on_commit(
            lambda: task_enqueue("decisions.tasks.decision_notify_task", decision.pk, "outcome")
        )
    return decision


def decision_cancel(
    *, decision_id: int, reason: str, user: Actor = None, now: datetime | None = None
) -> Decision:
    """Withdraw a pending decision (the system, its requester, or an approver)."""
    now = now or timezone.now()
    with transaction.atomic():
        decision = Decision.objects.select_for_update().get(pk=decision_id)
        if user is not None and user.pk != decision.requested_by_id:
            _require_approver(user)
        if decision.status != Decision.Status.PENDING:
            raise DecisionNotPending(f"Decision #{decision_id} is {decision.status}, not pending.")
        _compare_and_set(
            decision,
            status=Decision.Status.CANCELLED,
            decided_by=user,
            decided_at=now,
            outcome=f"Cancelled: {reason}"[:2000],
        )
        audit_log(
            action="decisions.decision_cancelled",
            actor=user,
            subject=decision,
            data={"reason": reason},
        )
    return decision
