"""``decisions.presentation``: decisions in business terms.

The budget overrun (the decisions app's own action) through the real spend service, the
fallback for an action nobody wrote a presenter for, the formats, the registry, the text
form, and that the model's analysis never appears.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from decisions.models import Decision
from decisions.presentation import (
    PRESENTERS,
    Framing,
    decision_present,
    money_format,
    percent_format,
    presentation_text,
    presenter_register,
    value_readable,
)
from decisions.services import budget_create
from decisions.services.budgets import budget_spend_record

pytestmark = pytest.mark.django_db

SECRET = "SECRET-CHAIN-OF-THOUGHT"


def test_money_follows_the_currency_jpy_without_decimals():
    assert money_format(70000, "JPY") == "¥70,000"
    assert money_format(Decimal("1234.4"), "JPY") == "¥1,234"
    assert money_format("1234.5", "USD") == "$1,234.50"
    assert money_format(12, "CHF") == "12.00 CHF"
    assert money_format(-500, "JPY") == "-¥500"
    assert percent_format(0.6) == "60%" and percent_format("0.305") == "31%"


def test_readable_values_never_show_a_raw_dict_or_list():
    assert value_readable({"affinity": 0.6, "goal_id": 3}) == "Affinity: 0.6; Goal: 3"
    assert value_readable(["a", "b"]) == "a, b"
    assert value_readable(True) == "Yes" and value_readable(None) == "—"
    assert value_readable(1234567) == "1,234,567"


@time_machine.travel(dt.datetime(2026, 5, 11, 0, 0, tzinfo=dt.UTC), tick=False)
def test_budget_overrun_reads_as_money_more_this_month_and_per_day():
    budget = budget_create(name="Marketing", limit=100_000, period="monthly", currency="JPY")
    # 50,000 in the first 10 of 31 days: the pace ends the month at 155,000.
    budget_spend_record(budget=budget, amount=50_000, source="ads", reference="r1")
    decision = Decision.objects.get(action="decisions.budget_limit_set")

    shown = decision_present(decision=decision)

    assert shown.summary == (
        "Spend up to ¥55,000 more this month on Marketing: ¥1,774 a day over budget"
    )
    assert shown.evidence == [
        ("Budget", "Marketing"),
        ("Spent so far", "¥50,000"),
        ("Current limit", "¥100,000"),
        ("Forecast for the period", "¥155,000"),
        ("New limit if approved", "¥155,000"),
        ("Period", "2026-05-01 – 2026-05-31"),
    ]
    assert shown.impact == ""  # the summary says what approving changes
    assert shown.note.startswith("Spent 50000 JPY of 100000 this period")  # the check's account
    assert [o.key for o in shown.options] == ["raise", "reject"]
    assert shown.recommendation == "Keep the limit at 100000 JPY"
    technical = dict(shown.technical)
    assert technical["Action"] == "decisions.budget_limit_set"
    assert technical["Digest"] == decision.action_digest
    assert technical["limit"] == "155000"


def test_an_action_without_a_presenter_falls_back_to_its_own_words_and_a_readable_table(
    make_decision,
):
    decision = make_decision(
        title="Connect Stripe",
        action_args={"n": 1, "weights": {"affinity": 0.6, "novelty": 0.4}, "hosts": ["a", "b"]},
        model_analysis=SECRET,
    )

    shown = decision_present(decision=decision)

    assert "tests.record" not in PRESENTERS
    assert shown.title == "Connect Stripe"
    assert shown.summary == "Sales need card payments; the ideator proposes Stripe."
    assert shown.impact == "One new outside service holding customer payment data."
    assert shown.evidence == [
        ("N", "1"),
        ("Weights", "Affinity: 0.6; Novelty: 0.4"),
        ("Hosts", "a, b"),
    ]
    assert "{" not in " ".join(v for _, v in shown.evidence + shown.technical)
    assert shown.recommendation == "Connect it"


def test_a_presenter_that_breaks_falls_back_rather_than_hide_the_decision(make_decision):
    decision = make_decision(action_args={"n": 7})

    @presenter_register("tests.record")
    def broken(decision: Decision) -> Framing:
        raise LookupError("the subject is gone")

    try:
        shown = decision_present(decision=decision)
    finally:
        del PRESENTERS["tests.record"]
    assert shown.summary == decision.situation and shown.evidence == [("N", "7")]


def test_a_second_presenter_for_one_action_is_refused():
    with pytest.raises(ValueError, match="already registered"):

        @presenter_register("decisions.budget_limit_set")
        def other(decision: Decision) -> Framing:
            return Framing(summary="")


def test_the_text_form_has_summary_evidence_and_options_and_no_model_analysis(make_decision):
    decision = make_decision(title="Connect Stripe", action_args={"n": 1}, model_analysis=SECRET)

    text = presentation_text(decision)

    assert text.splitlines()[:3] == [
        "Connect Stripe",
        "",
        "Sales need card payments; the ideator proposes Stripe.",
    ]
    assert "  N: 1" in text
    assert "  - Connect it (recommended): Cards work" in text
    assert "  - Do not connect: Bank transfer only" in text
    assert SECRET not in text


def test_telegram_sends_the_same_text_form(make_decision):
    from decisions.services.telegram.messages import _decision_text

    decision = make_decision(title="Connect Stripe", action_args={"n": 1}, model_analysis=SECRET)

    text = _decision_text(decision, event="requested")

    assert text.startswith("Decision needed: " + presentation_text(decision))
    assert "  N: 1" in text and SECRET not in text
