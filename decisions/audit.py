"""The registry of audit actions: every ``audit_log`` names one of these.

Each app registers its own actions from its ``AppConfig.ready`` (dependencies point
one way: goals and ideas know decisions, never the reverse). An unknown name is a
programming error and is refused, so the log never fills with typos.
"""

from __future__ import annotations

import re

AUDIT_ACTIONS: dict[str, str] = {}

_NAME = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")


def audit_action_register(name: str, description: str) -> None:
    """Make ``name`` (``app.verb_object``) a known audit action."""
    if not _NAME.match(name):
        raise ValueError(f"audit action {name!r} must look like 'app.what_happened'")
    known = AUDIT_ACTIONS.get(name)
    if known is not None and known != description:
        raise ValueError(f"audit action {name!r} is already registered as {known!r}")
    AUDIT_ACTIONS[name] = description


def audit_actions_register(actions: dict[str, str]) -> None:
    for name, description in actions.items():
        audit_action_register(name, description)


audit_actions_register(
    {
        "decisions.decision_requested": "A decision was requested",
        "decisions.decision_approved": "A person approved a decision",
        "decisions.decision_rejected": "A person rejected a decision",
        "decisions.decision_cancelled": "A decision was withdrawn",
        "decisions.decision_expired": "A decision expired unanswered (held)",
        "decisions.decision_reminded": "Approvers were reminded of an open decision",
        "decisions.decision_undelivered": "A decision's mail could reach no approver",
        "decisions.decision_delivered": "A decision's mail reached approvers after all",
        "decisions.decision_applied": "An approved decision's action ran",
        "decisions.decision_failed": "An approved decision's action failed or was refused",
        "decisions.decision_superseded": "A newer proposal on the same subject replaced a decision",
        "decisions.decision_apply_resumed": "An interrupted idempotent action was run again",
        "decisions.budget_created": "A budget was created",
        "decisions.budget_updated": "A budget was changed",
        "decisions.budget_spent": "Spend was recorded against a budget",
        "decisions.policy_updated": "Policy thresholds were changed",
        "decisions.telegram_linked": "A person linked their Telegram account",
        "decisions.telegram_relinked": "A person linked a different Telegram account",
        "decisions.telegram_unlinked": "A person unlinked their Telegram account",
        "decisions.notify_prefs_changed": "A person changed which notifications reach them where",
        "decisions.person_language_changed": "A person chose the language they read bizagent in",
    }
)
