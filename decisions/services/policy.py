"""The check every proposed action goes through, and staff changing its thresholds.

The thresholds are read by ``decisions.selectors.policy_thresholds``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from decisions.actors import Actor, Person
from decisions.models import PolicySettings
from decisions.policy import ActionProposal, Verdict, policy_evaluate
from decisions.selectors import policy_thresholds
from decisions.services.audit import audit_log

EDITABLE = (
    "budget_overrun_fraction",
    "parameter_tweak_fraction",
    "strategy_change_fraction",
    "anomaly_sigma",
    "max_automatic_retries",
    "mass_deletion_records",
    "mass_send_recipients",
)


def policy_check(*, proposal: ActionProposal) -> Verdict:
    """Automatic, or does a person decide? Thresholds as staff last set them."""
    return policy_evaluate(
        proposal,
        policy_thresholds(),
        auto_execution_enabled=settings.AUTO_EXECUTION_ENABLED,
    )


def policy_settings_update(*, actor: Actor, **values: Any) -> PolicySettings:
    """Change thresholds (staff with ``change_policysettings``); logs what changed."""
    if actor is None or not actor.has_perm("decisions.change_policysettings"):
        raise PermissionDenied("changing policy thresholds needs decisions.change_policysettings")
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise ValueError(f"not a policy threshold: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        # The data migration made the row; only a database emptied since lacks it, and
        # the first change after that writes it (the model's defaults, then the change).
        PolicySettings.objects.get_or_create(pk=PolicySettings.SINGLETON_ID)
        row = PolicySettings.objects.select_for_update().get(pk=PolicySettings.SINGLETON_ID)
        changes: dict[str, dict[str, Any]] = {}
        for name, value in values.items():
            old = getattr(row, name)
            if isinstance(old, Decimal):
                value = Decimal(str(value))
            if old != value:
                changes[name] = {"from": str(old), "to": str(value)}
                setattr(row, name, value)
        if not changes:
            return row
        row.updated_at = timezone.now()
        row.updated_by = cast("Person", actor)  # has_perm passed: a person
        row.full_clean()
        row.save()
        audit_log(action="decisions.policy_updated", actor=actor, subject=row, data=changes)
    return row
