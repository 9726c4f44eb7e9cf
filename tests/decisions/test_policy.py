"""Policy: every rule and every boundary, table-driven; then thresholds edited by staff."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from decisions.models import AuditEvent
from decisions.policy import ActionProposal, PolicyThresholds, policy_evaluate
from decisions.selectors import policy_thresholds
from decisions.services import policy_check, policy_settings_update

DEFAULTS = PolicyThresholds()

# (proposal, needs a person?, rule, decision kind requested)
CASES = [
    # Automatic kinds under every line.
    (ActionProposal("run_workflow"), False, "run_workflow", ""),
    (ActionProposal("scheduled_run"), False, "scheduled_run", ""),
    (ActionProposal("data_refresh"), False, "data_refresh", ""),
    (ActionProposal("report"), False, "report", ""),
    # Parameter tweaks: within ±10% automatic, beyond needs a person.
    (ActionProposal("parameter_tweak", change_fraction=0.0), False, "parameter_tweak", ""),
    (ActionProposal("parameter_tweak", change_fraction=0.10), False, "parameter_tweak", ""),
    (ActionProposal("parameter_tweak", change_fraction=-0.10), False, "parameter_tweak", ""),
    (
        ActionProposal("parameter_tweak", change_fraction=1.1 / 1.0 - 1),
        False,
        "parameter_tweak",
        "",
    ),
    (
        ActionProposal("parameter_tweak", change_fraction=0.1001),
        True,
        "parameter_tweak",
        "strategy_change",
    ),
    (
        ActionProposal("parameter_tweak", change_fraction=-0.15),
        True,
        "parameter_tweak",
        "strategy_change",
    ),
    (ActionProposal("parameter_tweak"), True, "parameter_tweak", "parameter_tweak"),
    # Retries: up to 3 automatic, the 4th needs a person.
    (ActionProposal("retry", retry_count=1), False, "retry", ""),
    (ActionProposal("retry", retry_count=3), False, "retry", ""),
    (ActionProposal("retry", retry_count=4), True, "retry", "anomaly"),
    (ActionProposal("retry"), True, "retry", "anomaly"),
    # Budget forecast: more than 10% over needs a person; exactly 10% does not.
    (ActionProposal("run_workflow", overrun_fraction=0.0999), False, "run_workflow", ""),
    (ActionProposal("run_workflow", overrun_fraction=0.10), False, "run_workflow", ""),
    (
        ActionProposal("run_workflow", overrun_fraction=0.1001),
        True,
        "budget_overrun",
        "budget_overrun",
    ),
    (
        ActionProposal("budget_overrun", overrun_fraction=0.25),
        True,
        "budget_overrun",
        "budget_overrun",
    ),
    (ActionProposal("budget_overrun", overrun_fraction=0.05), False, "budget_overrun", ""),
    (ActionProposal("budget_overrun"), True, "budget_overrun", "budget_overrun"),
    # Always a person.
    (ActionProposal("new_integration"), True, "new_integration", "new_integration"),
    (ActionProposal("new_workflow"), True, "new_workflow", "new_workflow"),
    (ActionProposal("security_change"), True, "security_change", "security_change"),
    # Strategy: ±20% or more needs a person.
    (ActionProposal("strategy_change", change_fraction=0.1999), False, "strategy_change", ""),
    (
        ActionProposal("strategy_change", change_fraction=0.20),
        True,
        "strategy_change",
        "strategy_change",
    ),
    (
        ActionProposal("strategy_change", change_fraction=-0.20),
        True,
        "strategy_change",
        "strategy_change",
    ),
    (ActionProposal("strategy_change"), True, "strategy_change", "strategy_change"),
    # Anomaly: 3σ or more from the mean.
    (ActionProposal("report", sigma=2.99), False, "report", ""),
    (ActionProposal("report", sigma=3.0), True, "anomaly", "anomaly"),
    (ActionProposal("report", sigma=-3.0), True, "anomaly", "anomaly"),
    (ActionProposal("anomaly", sigma=1.0), False, "anomaly", ""),
    (ActionProposal("anomaly"), True, "anomaly", "anomaly"),
    # Mass deletion of customer data: 100 records or more.
    (ActionProposal("mass_deletion", records=99), False, "mass_deletion", ""),
    (ActionProposal("mass_deletion", records=100), True, "mass_deletion", "mass_deletion"),
    (
        ActionProposal("mass_deletion", records=5000, customer_data=False),
        False,
        "mass_deletion",
        "",
    ),
    (ActionProposal("mass_deletion"), True, "mass_deletion", "mass_deletion"),
    # Large outbound sends: 500 recipients or more.
    (ActionProposal("mass_send", recipients=499), False, "mass_send", ""),
    (ActionProposal("mass_send", recipients=500), True, "mass_send", "mass_send"),
    (ActionProposal("report", recipients=500), True, "mass_send", "mass_send"),
    (ActionProposal("mass_send"), True, "mass_send", "mass_send"),
    # Anything the policy does not know never runs by itself.
    (ActionProposal("launch_rocket"), True, "unknown_kind", "other"),
]


@pytest.mark.parametrize(
    ("proposal", "needs_person", "rule", "kind"),
    CASES,
    ids=[f"{c[0].kind}-{i}" for i, c in enumerate(CASES)],
)
def test_policy_rule_and_boundary(proposal, needs_person, rule, kind):
    verdict = policy_evaluate(proposal, DEFAULTS, auto_execution_enabled=True)
    assert verdict.requires_decision is needs_person, verdict.reason
    assert verdict.automatic is (not needs_person)
    assert verdict.rule == rule
    assert verdict.decision_kind == kind
    assert verdict.reason


@pytest.mark.parametrize(
    "proposal",
    [
        ActionProposal("run_workflow"),
        ActionProposal("report"),
        ActionProposal("retry", retry_count=1),
        ActionProposal("new_integration"),
        ActionProposal("parameter_tweak", change_fraction=0.01),
    ],
    ids=lambda p: p.kind,
)
def test_switch_off_turns_every_action_into_a_decision(proposal):
    verdict = policy_evaluate(proposal, DEFAULTS, auto_execution_enabled=False)
    assert verdict.requires_decision
    assert verdict.rule == "auto_execution_disabled"
    assert "AUTO_EXECUTION_ENABLED" in verdict.reason


def test_reason_names_the_line_that_was_crossed():
    verdict = policy_evaluate(
        ActionProposal("run_workflow", overrun_fraction=0.37), DEFAULTS, auto_execution_enabled=True
    )
    assert "37.0%" in verdict.reason and "10%" in verdict.reason


def test_cross_cutting_line_wins_over_an_automatic_kind():
    """A scheduled run that would send to 10,000 people is a mass send."""
    verdict = policy_evaluate(
        ActionProposal("scheduled_run", recipients=10_000), DEFAULTS, auto_execution_enabled=True
    )
    assert verdict.requires_decision and verdict.decision_kind == "mass_send"


@pytest.mark.django_db
def test_policy_check_reads_staff_thresholds_and_switch(settings, alice):
    from django.contrib.auth.models import Permission

    settings.AUTO_EXECUTION_ENABLED = True
    proposal = ActionProposal("strategy_change", change_fraction=0.25)
    assert policy_check(proposal=proposal).requires_decision

    alice.user_permissions.add(Permission.objects.get(codename="change_policysettings"))
    alice = type(alice).objects.get(pk=alice.pk)
    policy_settings_update(actor=alice, strategy_change_fraction="0.30")
    assert policy_thresholds().strategy_change_fraction == pytest.approx(0.30)
    assert policy_check(proposal=proposal).automatic

    event = AuditEvent.objects.get(action="decisions.policy_updated")
    assert event.actor == alice
    assert event.data == {"strategy_change_fraction": {"from": "0.200", "to": "0.30"}}

    settings.AUTO_EXECUTION_ENABLED = False
    assert policy_check(proposal=ActionProposal("report")).requires_decision


@pytest.mark.django_db
def test_policy_update_refuses_without_permission_and_unknown_names(bob, alice):
    with pytest.raises(PermissionDenied):
        policy_settings_update(actor=bob, anomaly_sigma=1)
    from django.contrib.auth.models import Permission

    alice.user_permissions.add(Permission.objects.get(codename="change_policysettings"))
    alice = type(alice).objects.get(pk=alice.pk)
    with pytest.raises(ValueError, match="not a policy threshold: sigma"):
        policy_settings_update(actor=alice, sigma=1)
    assert policy_thresholds() == DEFAULTS
    assert not AuditEvent.objects.filter(action="decisions.policy_updated").exists()


@pytest.mark.django_db
def test_policy_update_rejects_nonsense_values_and_changes_nothing(alice):
    from django.contrib.auth.models import Permission
    from django.core.exceptions import ValidationError

    alice.user_permissions.add(Permission.objects.get(codename="change_policysettings"))
    alice = type(alice).objects.get(pk=alice.pk)
    with pytest.raises(ValidationError):
        policy_settings_update(actor=alice, mass_send_recipients=-5)
    assert policy_thresholds() == DEFAULTS
