"""Governance services: the only writers of decisions, budgets, policy and the audit log."""

from decisions.services.apply import (
    decision_apply,
    decision_apply_overdue,
    decision_apply_resume,
)
from decisions.services.audit import AuditEntry, audit_log, audit_log_many
from decisions.services.budgets import (
    budget_create,
    budget_overrun_check,
    budget_spend_record,
    budget_update,
)
from decisions.services.decisions import (
    DecisionNotPending,
    DecisionPremiseFailed,
    action_digest,
    decision_approve,
    decision_cancel,
    decision_reject,
    decision_request,
    option_proceeds,
)
from decisions.services.policy import policy_check, policy_settings_update
from decisions.services.schedules import governance_schedules_ensure
from decisions.services.timing import decision_expire_due, decision_remind_due, reminder_points

__all__ = [
    "AuditEntry",
    "DecisionNotPending",
    "DecisionPremiseFailed",
    "action_digest",
    "audit_log",
    "audit_log_many",
    "budget_create",
    "budget_overrun_check",
    "budget_spend_record",
    "budget_update",
    "decision_apply",
    "decision_apply_overdue",
    "decision_apply_resume",
    "decision_approve",
    "decision_cancel",
    "decision_expire_due",
    "decision_reject",
    "decision_remind_due",
    "decision_request",
    "governance_schedules_ensure",
    "option_proceeds",
    "policy_check",
    "policy_settings_update",
    "reminder_points",
]
