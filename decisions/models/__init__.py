"""Governance models: decisions (+options, mails, links), the audit log, budgets, policy
settings and the Sheets outbox. Only ``decisions.services`` writes them."""

from decisions.models.audit import AuditEvent, AuditEventQuerySet
from decisions.models.budget import Budget, BudgetSpend, Period
from decisions.models.decision import Decision, DecisionKind, DecisionOption, Urgency
from decisions.models.delivery import DecisionLink, DecisionMail, SheetRow
from decisions.models.notify import NotificationPreference
from decisions.models.person import PersonSettings
from decisions.models.policy import PolicySettings
from decisions.models.telegram import (
    TelegramButton,
    TelegramLink,
    TelegramLinkToken,
    TelegramMessage,
    TelegramPollState,
)

__all__ = [
    "AuditEvent",
    "AuditEventQuerySet",
    "Budget",
    "BudgetSpend",
    "Decision",
    "DecisionKind",
    "DecisionLink",
    "DecisionMail",
    "DecisionOption",
    "NotificationPreference",
    "Period",
    "PersonSettings",
    "PolicySettings",
    "SheetRow",
    "TelegramButton",
    "TelegramLink",
    "TelegramLinkToken",
    "TelegramMessage",
    "TelegramPollState",
    "Urgency",
]
