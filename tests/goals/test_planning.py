"""plan_decompose: the plan's figures, worked by hand for a table of cases.

Expected figures below are computed in the comments next to them, from the rules in
goals/planning.py's docstring (ends included, today counts, daily target rounded up,
cheapest workflow first up to its cap).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from goals.catalogue import CATALOGUE_DIR, CatalogueEntry, catalogue_load
from goals.planning import PlanError, RiskKind, money_major, plan_decompose
from goals.vocabulary import Metric

START = date(2025, 3, 3)  # a Monday
END = START + timedelta(days=6)  # "1週間": Monday..Sunday, seven days
ARPU = 9800  # JPY a month


def _entry(
    key: str,
    *,
    metric: str = Metric.CUSTOMERS,
    yield_per_unit: str = "0.1",
    unit_cost: str = "2",
    max_per_day: int = 10_000,
    currency: str = "JPY",
) -> CatalogueEntry:
    return CatalogueEntry(
        key=key,
        title=key.replace("_", " "),
        workflow=key.replace("_", "-"),
        metric=metric,
        yield_per_unit=Decimal(yield_per_unit),
        unit="unit",
        unit_cost=Decimal(unit_cost),
        currency=currency,
        volume_param="volume",
        max_per_day=max_per_day,
        yield_source="test figure",
    )


def _plan(**overrides):
    args = {
        "target": 2_000_000,
        "achieved": 0,
        "start": START,
        "end": END,
        "today": START,
        "arpu": ARPU,
        "catalogue": [_entry("mailer")],
    }
    args.update(overrides)
    return plan_decompose(**args)


def test_it_gives_285715_a_day_for_two_million_in_a_week_from_zero():
    plan = _plan()
    # 2,000,000 / 7 = 285,714.28… rounded up, so that 7 days reach the target.
    assert plan.daily_target == 285_715
    assert plan.days_total == plan.days_remaining == 7
    assert plan.daily_target * plan.days_remaining >= plan.target
    # 2,000,000 / 9,800 = 204.08… customers, rounded up.
    assert plan.customers_needed == 205
    (action,) = plan.actions
    # One unit is worth 0.1 × 9,800 = 980 JPY: 285,715 / 980 = 291.5… → 292 units a day.
    assert action.value_per_unit == Decimal("980.0")
    assert action.per_day == 292
    assert action.params == {"volume": 292}
    assert not action.capped
    assert action.cost_per_day == 292 * 2
    assert action.cost_total == 292 * 2 * 7
    assert plan.budget_estimate == 4088
    assert plan.risks == ()


@pytest.mark.parametrize(
    ("achieved", "today", "days_remaining", "daily_target", "per_day"),
    [
        # zero achieved on day one: see the test above.
        (0, START, 7, 285_715, 292),
        # half achieved on day 4 of 7: 1,000,000 over Thu..Sun = 250,000; 250,000/980 = 255.1 → 256
        (1_000_000, START + timedelta(days=3), 4, 250_000, 256),
        # the last day with 1,500,000 in: all 500,000 today; 500,000/980 = 510.2 → 511
        (1_500_000, END, 1, 500_000, 511),
        # before the period starts: the whole week still ahead
        (0, START - timedelta(days=5), 7, 285_715, 292),
        # more achieved than planned for: 1,999,999 → 1 JPY over the 2 days left → 1 a day
        (1_999_999, END - timedelta(days=1), 2, 1, 1),
    ],
)
def test_it_spreads_what_remains_over_the_days_left(
    achieved, today, days_remaining, daily_target, per_day
):
    plan = _plan(achieved=achieved, today=today)
    assert plan.remaining == 2_000_000 - achieved
    assert plan.days_remaining == days_remaining
    assert plan.daily_target == daily_target
    assert plan.actions[0].per_day == per_day


@pytest.mark.parametrize("remaining", [1, 6, 7, 8, 999_999, 2_000_000, 12_345_678])
@pytest.mark.parametrize("days", [1, 3, 7, 30, 31, 90])
def test_the_daily_target_is_the_smallest_that_reaches_the_target(remaining, days):
    plan = _plan(target=remaining, end=START + timedelta(days=days - 1))
    assert plan.daily_target * days >= remaining
    assert (plan.daily_target - 1) * days < remaining


def test_a_period_already_over_plans_nothing_and_says_so():
    plan = _plan(achieved=500_000, today=END + timedelta(days=1))
    assert plan.days_remaining == 0
    assert plan.actions == ()
    assert plan.budget_estimate == 0
    assert plan.daily_target == 1_500_000  # the whole shortfall, with no day to make it in
    assert plan.risk_kinds() == {RiskKind.PERIOD_OVER}
    assert "2025-03-09" in plan.risks[0].message


def test_a_target_already_reached_plans_nothing():
    plan = _plan(achieved=2_100_000, today=START + timedelta(days=2))
    assert plan.remaining == 0
    assert plan.actions == ()
    assert plan.daily_target == 0
    assert plan.risk_kinds() == {RiskKind.TARGET_MET}


def test_a_capped_workflow_hands_the_rest_to_the_next_cheapest():
    cheap = _entry("cheap", yield_per_unit="0.1", unit_cost="1", max_per_day=100)  # 980 a unit
    dear = _entry("dear", yield_per_unit="0.05", unit_cost="5", max_per_day=1000)  # 490 a unit
    plan = _plan(catalogue=[dear, cheap])  # given dearest first: order by cost wins
    first, second = plan.actions
    assert first.entry.key == "cheap"
    assert (first.per_day, first.capped) == (100, True)
    assert first.expected_per_day == Decimal(98_000)
    # 285,715 − 98,000 = 187,715 left; 187,715 / 490 = 383.09 → 384 units
    assert (second.entry.key, second.per_day, second.capped) == ("dear", 384, False)
    assert plan.expected_per_day >= plan.daily_target
    assert plan.budget_estimate == (100 * 1 + 384 * 5) * 7
    assert RiskKind.CAPACITY not in plan.risk_kinds()


def test_a_shortfall_after_every_cap_is_a_capacity_risk():
    cheap = _entry("cheap", yield_per_unit="0.1", unit_cost="1", max_per_day=100)
    dear = _entry("dear", yield_per_unit="0.05", unit_cost="5", max_per_day=50)
    plan = _plan(catalogue=[cheap, dear])
    assert [(a.per_day, a.capped) for a in plan.actions] == [(100, True), (50, True)]
    # 100 × 980 + 50 × 490 = 122,500 of 285,715 a day
    assert plan.expected_per_day == Decimal(122_500)
    (risk,) = plan.risks
    assert risk.kind == RiskKind.CAPACITY
    assert "122500 of the 285715" in risk.message


def test_without_arpu_customer_workflows_are_an_assumption_to_fill():
    revenue_direct = _entry("shop_sales", metric=Metric.REVENUE, yield_per_unit="1500")
    plan = _plan(arpu=None, catalogue=[_entry("mailer"), revenue_direct])
    assert plan.customers_needed is None
    assert RiskKind.NO_ARPU in plan.risk_kinds()
    # The revenue-yielding workflow needs no ARPU: 285,715 / 1,500 = 190.5 → 191 units.
    (action,) = plan.actions
    assert (action.entry.key, action.per_day) == ("shop_sales", 191)
    assert plan.to_json()["arpu"] is None


def test_without_arpu_and_nothing_else_there_is_no_action_and_the_risk_says_why():
    plan = _plan(arpu=None)
    assert plan.actions == ()
    assert plan.risk_kinds() == {RiskKind.NO_ARPU}
    assert "ARPU" in plan.risks[0].message


def test_a_workflow_driving_another_metric_is_not_counted():
    posts = _entry("briefing", metric=Metric.TRIALS, yield_per_unit="2", unit_cost="0")
    plan = _plan(catalogue=[posts])
    assert plan.actions == ()
    assert plan.risk_kinds() == {RiskKind.NOT_COUNTED, RiskKind.NO_WORKFLOW}


def test_a_workflow_costed_in_another_currency_is_not_counted():
    plan = _plan(catalogue=[_entry("abroad", currency="USD", unit_cost="0.10")])
    assert plan.actions == ()
    assert RiskKind.NOT_COUNTED in plan.risk_kinds()
    assert "USD" in " ".join(r.message for r in plan.risks)


def test_a_customer_count_goal_uses_yields_without_arpu():
    # 30 customers in 10 days, 4 already: 26 / 10 = 2.6 → 3 a day; 3 / 0.15 = 20 units.
    plan = _plan(
        metric=Metric.CUSTOMERS,
        target=30,
        achieved=4,
        end=START + timedelta(days=9),
        arpu=None,
        catalogue=[_entry("onboarding", yield_per_unit="0.15", unit_cost="1")],
    )
    assert plan.customers_needed == 26
    assert plan.daily_target == 3
    assert plan.actions[0].per_day == 20
    assert RiskKind.NO_ARPU not in plan.risk_kinds()
    assert plan.to_json()["daily_target"] == "3"


def test_dollar_amounts_stay_in_cents_and_print_in_dollars():
    # $20k in 30 days: 2,000,000 cents / 30 = 66,666.67 → 66,667 cents a day.
    plan = _plan(
        target=2_000_000,
        end=START + timedelta(days=29),
        currency="USD",
        arpu=4900,  # $49
        catalogue=[_entry("mailer", currency="USD", unit_cost="0.03", yield_per_unit="0.1")],
    )
    assert plan.daily_target == 66_667
    # one unit: 0.1 × 4,900 = 490 cents; 66,667 / 490 = 136.05 → 137 units at 3 cents
    assert plan.actions[0].per_day == 137
    document = plan.to_json()
    assert document["daily_target"] == "666.67"
    assert document["arpu"] == "49.00"
    assert document["actions"][0]["cost_per_day"] == "4.11"
    assert document["budget_estimate"] == "123.30"  # 411 cents × 30 days


def test_the_json_document_has_the_issues_shape_in_major_units():
    document = _plan().to_json()
    assert document["daily_target"] == "285715"
    assert document["customers_needed"] == 205
    assert document["arpu"] == "9800"
    assert document["actions"] == [
        {
            "workflow": "mailer",
            "catalogue": "mailer",
            "params": {"volume": 292},
            "per_day": 292,
            "expected": "286160",  # 292 × 980
            "cost_per_day": "584",
            "cost": "4088",
        }
    ]
    assert document["budget_estimate"] == "4088"
    assert document["risks"] == []


def test_the_shipped_catalogue_plans_the_headline_goal():
    plan = _plan(catalogue=catalogue_load(CATALOGUE_DIR))
    assert plan.daily_target == 285_715
    assert plan.actions, "the shipped catalogue should drive revenue through customers"
    assert plan.expected_per_day >= plan.daily_target or RiskKind.CAPACITY in plan.risk_kinds()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"target": 0}, "target must be above zero"),
        ({"target": -5}, "target must be above zero"),
        ({"end": START - timedelta(days=1)}, "ends (2025-03-02) before it starts"),
        ({"arpu": 0}, "arpu must be above zero"),
        ({"currency": "XXX"}, "unknown currency 'XXX'"),
        ({"metric": "profit"}, "metric must be one of"),
    ],
)
def test_it_refuses_figures_nothing_can_be_planned_from(overrides, message):
    with pytest.raises(PlanError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _plan(**overrides)


def test_money_major_prints_major_units():
    assert money_major(2_000_000, "JPY") == "2000000"
    assert money_major(5, "USD") == "0.05"
    assert money_major(Decimal("123456.5"), "USD") == "1234.57"  # a forecast, half-up
