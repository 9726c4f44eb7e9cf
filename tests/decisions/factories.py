"""Factories for the governance tests: decisions, budgets and audit events, made by the services.

Governance rows are never written straight to the table in the product, so the
factories go through the same services (``decision_request``, ``budget_create``,
``audit_log``): a factory-made decision has its digest, its audit row and its mails
queued exactly like a real one.
"""

from __future__ import annotations

from typing import Any

import factory

from decisions.models import AuditEvent, Budget, Decision
from decisions.services import audit_log, budget_create, decision_request

OPTIONS: list[dict[str, Any]] = [
    {"key": "approve", "label": "Connect it", "impact": "Cards work", "recommended": True},
    {"key": "reject", "label": "Do not connect", "impact": "Bank transfer only"},
]


class DecisionFactory(factory.Factory):
    """A pending decision on the ``tests.record`` action (tests/decisions/conftest.py).

    Each decision gets its own ``action_args`` (``{"n": N}``, N counting from 1 after
    ``reset_sequence(1)``), so two of them are two proposals, not one asked twice.
    """

    class Meta:
        model = Decision

    kind = "new_integration"
    title = factory.Sequence(lambda n: f"Connect the shop to a payment API #{n}")
    situation = "Sales need card payments; the ideator proposes Stripe."
    impact = "One new outside service holding customer payment data."
    options = factory.LazyFunction(lambda: [dict(option) for option in OPTIONS])
    action = "tests.record"
    action_args = factory.Sequence(lambda n: {"n": n})

    @classmethod
    def _create(cls, model_class: type[Decision], *args: Any, **kwargs: Any) -> Decision:
        return decision_request(**kwargs)


class BudgetFactory(factory.Factory):
    """An active monthly advertising budget of ¥100,000."""

    class Meta:
        model = Budget

    name = "Ads"
    limit = "100000"
    period = "monthly"
    currency = "JPY"

    @classmethod
    def _create(cls, model_class: type[Budget], *args: Any, **kwargs: Any) -> Budget:
        return budget_create(**kwargs)


class AuditEventFactory(factory.Factory):
    """An audit event the system recorded (a registered action, no actor)."""

    class Meta:
        model = AuditEvent

    action = "decisions.budget_spent"
    data = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class: type[AuditEvent], *args: Any, **kwargs: Any) -> AuditEvent:
        return audit_log(**kwargs)
