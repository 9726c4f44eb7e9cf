"""The decision mail (text and HTML, through a loopback SMTP server) carries the same
business wording as the admin: summary, evidence table, options; the technical details
collapsed in the HTML part; never the model's analysis."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine

from decisions.services import budget_create
from decisions.services.budgets import budget_spend_record

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "SECRET-CHAIN-OF-THOUGHT"


@time_machine.travel(dt.datetime(2026, 5, 11, 0, 0, tzinfo=dt.UTC), tick=False)
def test_the_budget_mail_says_what_approving_costs_in_both_parts(alice, smtp_server, q_sync):
    budget = budget_create(name="Marketing", limit=100_000, period="monthly", currency="JPY")
    budget_spend_record(budget=budget, amount=50_000, source="ads", reference="r1")

    [mail] = smtp_server.messages
    text, html = mail.part("text/plain"), mail.part("text/html")

    summary = "Spend up to ¥55,000 more this month on Marketing: ¥1,774 a day over budget"
    assert summary in text and summary in html
    assert "  Forecast for the period: ¥155,000" in text
    assert "<th" in html and "Forecast for the period</th>" in html and "¥155,000</td>" in html
    assert "Raise the limit to 155000 JPY" in text
    # Technical details: collapsed in the HTML part, left out of the text part.
    assert "<details" in html and "<summary>Technical details</summary>" in html
    assert "decisions.budget_limit_set" in html.split("<details")[1]
    assert "decisions.budget_limit_set" not in text


def test_the_fallback_mail_shows_args_as_a_table_and_not_the_model_analysis(
    alice, smtp_server, q_sync, make_decision
):
    make_decision(
        title="Connect Stripe",
        action_args={"n": 1, "weights": {"affinity": 0.6}},
        model_analysis=SECRET,
    )

    [mail] = smtp_server.messages
    text, html = mail.part("text/plain"), mail.part("text/html")

    for body in (text, html):
        assert "Sales need card payments; the ideator proposes Stripe." in body
        assert "One new outside service holding customer payment data." in body
        assert "Affinity: 0.6" in body
        assert "{'affinity'" not in body and "{&#x27;affinity" not in body
        assert SECRET not in body
    assert "  Weights: Affinity: 0.6" in text
