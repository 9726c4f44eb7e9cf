"""Budgets: validation, the ledger, spent / remaining / forecast per period, and the
overrun decision that crossing the policy line asks for (once)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from decisions.models import AuditEvent, Budget, BudgetSpend, Decision
from decisions.selectors import budget_for_scope, budget_status, period_bounds
from decisions.services import budget_create, budget_spend_record, budget_update

pytestmark = pytest.mark.django_db

MID_NOVEMBER = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)  # half of a 30-day month


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def ads() -> Budget:
    return budget_create(name="Ads", limit="100000", period="monthly", currency="jpy")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"limit": "1000.5"}, "limit"),  # JPY has no minor unit
        ({"limit": "-1"}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"currency": "JP"}, "currency"),
        ({"currency": "¥"}, "currency"),
        ({"period": "yearly"}, "period"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_budgets_name_the_field_and_write_nothing(fields, field):
    values = {"name": "Ads", "limit": "1000", "period": "monthly", "currency": "JPY"} | fields
    with pytest.raises(ValidationError) as caught:
        budget_create(**values)
    assert field in caught.value.message_dict
    assert Budget.objects.count() == 0 and AuditEvent.objects.count() == 0


def test_cents_are_fine_in_a_currency_with_a_minor_unit():
    budget = budget_create(name="Cloud", limit="49.99", period="monthly", currency="USD")
    assert budget.limit == Decimal("49.99")
    assert str(budget) == "Cloud (monthly, 49.99 USD)"


def test_one_active_budget_per_scope_period_and_currency(ads):
    from tests.ideas.factories import ThemeFactory

    with pytest.raises(ValidationError):
        budget_create(name="Ads again", limit="5", period="monthly", currency="JPY")
    weekly = budget_create(name="Ads weekly", limit="30000", period="weekly")
    theme = ThemeFactory()
    scoped = budget_create(name="Theme tokens", limit="5000", period="daily", scope=theme)
    assert scoped.scope == theme
    assert list(budget_for_scope(scope=theme)) == [scoped]
    assert list(budget_for_scope()) == [ads, weekly]
    budget_update(budget_id=ads.pk, active=False)
    assert budget_create(name="Ads v2", limit="5", period="monthly").active


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("daily", at(2026, 11, 23, 15, 30), at(2026, 11, 23), at(2026, 11, 24)),
        ("weekly", at(2026, 11, 22, 23, 59), at(2026, 11, 16), at(2026, 11, 23)),  # Sunday
        ("weekly", at(2026, 11, 23, 0, 0), at(2026, 11, 23), at(2026, 11, 30)),  # Monday
        ("monthly", at(2026, 2, 10), at(2026, 2, 1), at(2026, 3, 1)),
        ("monthly", at(2026, 12, 31, 23), at(2026, 12, 1), at(2027, 1, 1)),
        ("quarterly", at(2026, 1, 1), at(2026, 1, 1), at(2026, 4, 1)),
        ("quarterly", at(2026, 5, 31, 23), at(2026, 4, 1), at(2026, 7, 1)),
        ("quarterly", at(2026, 12, 31, 23), at(2026, 10, 1), at(2027, 1, 1)),
    ],
)
def test_period_bounds(period, now, start, end):
    assert period_bounds(period, now) == (start, end)


def test_period_bounds_follow_the_configured_time_zone(settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    from zoneinfo import ZoneInfo

    from django.utils import timezone

    with timezone.override(ZoneInfo("Asia/Tokyo")):
        start, end = period_bounds("daily", at(2026, 11, 23, 16, 0))  # 01:00 on the 24th, JST
    assert start == at(2026, 11, 23, 15, 0) and end == at(2026, 11, 24, 15, 0)


def test_status_is_computed_from_the_ledger_of_the_period(ads):
    budget_spend_record(budget=ads, amount=20000, source="ads", spent_at=at(2026, 11, 3))
    budget_spend_record(budget=ads, amount=10000, source="ads", spent_at=at(2026, 11, 10))
    budget_spend_record(budget=ads, amount=-5000, source="refund", spent_at=at(2026, 11, 12))
    budget_spend_record(budget=ads, amount=99000, source="ads", spent_at=at(2026, 10, 31, 23))
    status = budget_status(budget=ads, now=MID_NOVEMBER)
    assert status.spent == Decimal("25000")
    assert status.remaining == Decimal("75000")
    assert status.forecast == Decimal("50000")  # half the month gone: twice the spend
    assert status.used_fraction == pytest.approx(0.25)
    assert status.forecast_overrun_fraction == pytest.approx(-0.5)
    assert not status.over_limit
    assert (status.period_start, status.period_end) == (at(2026, 11, 1), at(2026, 12, 1))


def test_early_in_the_period_the_forecast_is_damped(ads):
    """One purchase on the first morning must not project to thirty times itself."""
    budget_spend_record(budget=ads, amount=10000, source="ads", spent_at=at(2026, 11, 1, 1))
    status = budget_status(budget=ads, now=at(2026, 11, 1, 2))
    assert status.forecast == Decimal("40000")  # spend / 0.25, not spend * 360


def test_forecast_never_below_what_is_spent(ads):
    budget_spend_record(budget=ads, amount=120000, source="ads", spent_at=at(2026, 11, 29))
    status = budget_status(budget=ads, now=at(2026, 11, 30, 23, 59))
    assert status.forecast >= status.spent
    assert status.over_limit and status.remaining == Decimal("-20000")


def test_spend_is_idempotent_per_source_and_reference(ads):
    first, created = budget_spend_record(
        budget=ads, amount=3000, source="workflow.run", reference="run-17", spent_at=MID_NOVEMBER
    )
    again, created_again = budget_spend_record(
        budget=ads, amount=3000, source="workflow.run", reference="run-17", spent_at=MID_NOVEMBER
    )
    assert created and not created_again and again.pk == first.pk
    assert BudgetSpend.objects.count() == 1
    assert AuditEvent.objects.filter(action="decisions.budget_spent").count() == 1


@pytest.mark.parametrize(
    ("amount", "field"),
    [(0, "amount"), ("12.5", "amount"), ("abc", "amount")],
)
def test_bad_spend_is_refused(ads, amount, field):
    with pytest.raises(ValidationError) as caught:
        budget_spend_record(budget=ads, amount=amount, source="ads")
    assert field in caught.value.message_dict
    assert BudgetSpend.objects.count() == 0


def test_crossing_the_line_asks_for_one_decision(ads):
    with time_machine.travel(MID_NOVEMBER, tick=False):
        # Forecast 100,000 → 104,000 → 120,000: only past +10% asks a person.
        budget_spend_record(budget=ads, amount=50000, source="ads", reference="a")
        assert not Decision.objects.exists()
        budget_spend_record(budget=ads, amount=2000, source="ads", reference="b")
        assert not Decision.objects.exists()
        budget_spend_record(budget=ads, amount=8000, source="ads", reference="c")
        budget_spend_record(budget=ads, amount=1000, source="ads", reference="d")
    decision = Decision.objects.get()
    assert decision.kind == "budget_overrun"
    assert decision.status == Decision.Status.PENDING
    assert decision.subject == ads
    assert decision.action == "decisions.budget_limit_set"
    assert decision.action_args["limit"] == "120000"
    assert "Spent 60000" in decision.situation and "20% over" in decision.situation
    assert decision.recommendation == "reject"  # keeping the limit is the safe default
    assert list(decision.options.values_list("key", flat=True)) == ["raise", "reject"]


def test_the_overrun_line_is_the_staff_threshold(ads, alice):
    from django.contrib.auth.models import Permission

    from decisions.services import policy_settings_update

    alice.user_permissions.add(Permission.objects.get(codename="change_policysettings"))
    alice = type(alice).objects.get(pk=alice.pk)
    policy_settings_update(actor=alice, budget_overrun_fraction="0.5")
    budget_spend_record(budget=ads, amount=60000, source="ads", spent_at=MID_NOVEMBER)
    assert not Decision.objects.exists()


def test_budget_update_needs_permission_and_audits_each_change(ads, bob):
    with pytest.raises(PermissionDenied):
        budget_update(budget_id=ads.pk, actor=bob, limit="1")
    with pytest.raises(ValueError, match="not a budget field: owner"):
        budget_update(budget_id=ads.pk, owner="bob")
    budget_update(budget_id=ads.pk, limit="150000", name="Ads (Q4)")
    event = AuditEvent.objects.for_subject(ads).get(action="decisions.budget_updated")
    assert event.data == {
        "limit": {"from": "100000", "to": "150000"},
        "name": {"from": "Ads", "to": "Ads (Q4)"},
    }
    assert budget_update(budget_id=ads.pk, limit="150000")  # no change: no row
    assert AuditEvent.objects.filter(action="decisions.budget_updated").count() == 1
