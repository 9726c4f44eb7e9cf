"""Policy: for a proposed action, "automatic, or does a person decide?".

Pure: no database, no settings. ``decisions.services.policy_check`` feeds it the
staff-edited thresholds (``PolicySettings``) and the ``AUTO_EXECUTION_ENABLED`` switch.

Boundaries follow the design's wording exactly:

* budget forecast *more than* 10% over → person (exactly 10% is automatic);
* parameter tweaks *within* ±10% → automatic (exactly 10% is automatic);
* strategic change of ±20% *or more* → person (exactly 20% needs a person);
* a metric 3σ *or more* from its mean → person;
* retries *up to* 3 → automatic (the 4th needs a person);
* mass deletion / mass send at the configured count *or more* → person;
* a new integration, a new workflow, a security change → always a person.

An unknown kind never runs by itself: it needs a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

# Kinds that run by themselves while under every line.
AUTOMATIC_KINDS = frozenset(
    {"run_workflow", "parameter_tweak", "scheduled_run", "data_refresh", "report", "retry"}
)
# Kinds that always need a person.
ALWAYS_DECIDE = {
    "new_integration": "new_integration",
    "new_workflow": "new_workflow",
    "security_change": "security_change",
}
MEASURED_KINDS = frozenset(
    {"budget_overrun", "strategy_change", "anomaly", "mass_deletion", "mass_send"}
)
KNOWN_KINDS = AUTOMATIC_KINDS | set(ALWAYS_DECIDE) | MEASURED_KINDS

# Float noise (1.1 / 1.0 - 1 == 0.10000000000000009) must not flip a boundary.
_PRECISION = 9


def _r(value: float | Decimal) -> float:
    return round(float(value), _PRECISION)


@dataclass(frozen=True)
class PolicyThresholds:
    budget_overrun_fraction: float = 0.10
    parameter_tweak_fraction: float = 0.10
    strategy_change_fraction: float = 0.20
    anomaly_sigma: float = 3.0
    max_automatic_retries: int = 3
    mass_deletion_records: int = 100
    mass_send_recipients: int = 500


@dataclass(frozen=True)
class ActionProposal:
    """What the agent wants to do, with the measures the rules look at.

    ``kind`` is one of ``KNOWN_KINDS``. The measures are optional; each applies to
    every kind (a workflow run whose budget forecast overruns needs a person too).
    """

    kind: str
    summary: str = ""
    change_fraction: float | None = None  # parameter or strategy change, relative
    overrun_fraction: float | None = None  # budget forecast over its limit, relative
    sigma: float | None = None  # distance of a metric from its mean, in σ
    retry_count: int | None = None  # which retry this is (1 = the first retry)
    records: int | None = None  # customer records to delete
    recipients: int | None = None  # outbound recipients
    customer_data: bool = True  # for deletions: does it touch customer data?
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    requires_decision: bool
    rule: str
    reason: str
    # The Decision kind to request when a person is needed.
    decision_kind: str = ""

    @property
    def automatic(self) -> bool:
        return not self.requires_decision


def _decide(rule: str, reason: str, kind: str) -> Verdict:
    return Verdict(requires_decision=True, rule=rule, reason=reason, decision_kind=kind)


def _cross_cutting(p: ActionProposal, t: PolicyThresholds) -> Verdict | None:
    """Lines that apply to any kind of action."""
    if p.overrun_fraction is not None and _r(p.overrun_fraction) > _r(t.budget_overrun_fraction):
        return _decide(
            "budget_overrun",
            f"budget forecast {p.overrun_fraction:.1%} over its limit "
            f"(the line is {t.budget_overrun_fraction:.0%})",
            "budget_overrun",
        )
    if p.sigma is not None and _r(abs(p.sigma)) >= _r(t.anomaly_sigma):
        return _decide(
            "anomaly",
            f"a metric is {abs(p.sigma):.2f}σ from its mean (the line is {t.anomaly_sigma}σ)",
            "anomaly",
        )
    if p.records is not None and p.customer_data and p.records >= t.mass_deletion_records:
        return _decide(
            "mass_deletion",
            f"deletes {p.records} customer records (the line is {t.mass_deletion_records})",
            "mass_deletion",
        )
    if p.recipients is not None and p.recipients >= t.mass_send_recipients:
        return _decide(
            "mass_send",
            f"sends to {p.recipients} recipients (the line is {t.mass_send_recipients})",
            "mass_send",
        )
    return None


def policy_evaluate(
    proposal: ActionProposal, thresholds: PolicyThresholds, *, auto_execution_enabled: bool
) -> Verdict:
    """Automatic, or a person decides; with the rule that said so and why."""
    p, t = proposal, thresholds
    if not auto_execution_enabled:
        return _decide(
            "auto_execution_disabled",
            "automatic execution is switched off (AUTO_EXECUTION_ENABLED=false)",
            p.kind if p.kind in MEASURED_KINDS | set(ALWAYS_DECIDE) else "other",
        )
    if p.kind not in KNOWN_KINDS:
        return _decide("unknown_kind", f"unknown kind of action {p.kind!r}", "other")
    if p.kind in ALWAYS_DECIDE:
        return _decide(p.kind, f"a {p.kind.replace('_', ' ')} always needs a person", p.kind)
    crossed = _cross_cutting(p, t)
    if crossed is not None:
        return crossed
    if p.kind in ("parameter_tweak", "strategy_change"):
        if p.change_fraction is None:
            return _decide(p.kind, f"a {p.kind.replace('_', ' ')} without its size", p.kind)
        change = _r(abs(p.change_fraction))
        if p.kind == "strategy_change" and change >= _r(t.strategy_change_fraction):
            return _decide(
                "strategy_change",
                f"a strategic change of {abs(p.change_fraction):.0%} "
                f"(the line is ±{t.strategy_change_fraction:.0%})",
                "strategy_change",
            )
        if p.kind == "parameter_tweak" and change > _r(t.parameter_tweak_fraction):
            return _decide(
                "parameter_tweak",
                f"a parameter change of {abs(p.change_fraction):.0%} is outside "
                f"±{t.parameter_tweak_fraction:.0%}",
                "strategy_change",
            )
    if p.kind == "retry" and (p.retry_count is None or p.retry_count > t.max_automatic_retries):
        return _decide(
            "retry",
            f"retry {p.retry_count} is past the automatic {t.max_automatic_retries}",
            "anomaly",
        )
    if p.kind == "anomaly" and p.sigma is None:
        return _decide("anomaly", "an anomaly without its size", "anomaly")
    if p.kind == "mass_deletion" and p.records is None:
        return _decide("mass_deletion", "a deletion without its record count", "mass_deletion")
    if p.kind == "mass_send" and p.recipients is None:
        return _decide("mass_send", "a send without its recipient count", "mass_send")
    if p.kind == "budget_overrun" and p.overrun_fraction is None:
        return _decide("budget_overrun", "an overrun without its size", "budget_overrun")
    return Verdict(requires_decision=False, rule=p.kind, reason="within every policy line")
