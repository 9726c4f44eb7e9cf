"""The goal parser's table: Japanese and English phrasings against a fixed today.

TODAY is Wednesday 2025-06-11 (Q2; the week runs Mon 06-09..Sun 06-15). Windows are
inclusive: ``days == end - start + 1``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from goals.parsing import MAX_TEXT_CHARS, FieldSource, GoalParseError, Metric, goal_parse
from goals.parsing.numbers import japanese_number

TODAY = dt.date(2025, 6, 11)
D = dt.date

# (text, metric, target_amount (minor units), currency, period (start, end) or None)
AMOUNT_AND_PERIOD = [
    (
        "1週間で200万作りたい、ワークフロー回してくれ",
        Metric.REVENUE,
        2_000_000,
        "JPY",
        (TODAY, D(2025, 6, 17)),
    ),
    ("1週間で200万円", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 6, 17))),
    ("１週間で２００万円", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 6, 17))),
    ("一週間で二百万円稼ぐ", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 6, 17))),
    ("二百万を10日で", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 6, 20))),
    ("3ヶ月で1億5千万円", Metric.REVENUE, 150_000_000, "JPY", (TODAY, D(2025, 9, 10))),
    ("三ヶ月で1億円の売上", Metric.REVENUE, 100_000_000, "JPY", (TODAY, D(2025, 9, 10))),
    ("2か月で500万", Metric.REVENUE, 5_000_000, "JPY", (TODAY, D(2025, 8, 10))),
    ("1ヵ月間で300万円", Metric.REVENUE, 3_000_000, "JPY", (TODAY, D(2025, 7, 10))),
    ("30日で¥2,000,000", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 7, 10))),
    ("30日で￥2,000,000", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 7, 10))),
    ("今月200万", Metric.REVENUE, 2_000_000, "JPY", (D(2025, 6, 1), D(2025, 6, 30))),
    ("今月中に売上300万円", Metric.REVENUE, 3_000_000, "JPY", (D(2025, 6, 1), D(2025, 6, 30))),
    (
        "来月の売上を500万にしたい",
        Metric.REVENUE,
        5_000_000,
        "JPY",
        (D(2025, 7, 1), D(2025, 7, 31)),
    ),
    ("今週50万", Metric.REVENUE, 500_000, "JPY", (D(2025, 6, 9), D(2025, 6, 15))),
    ("来週までに20万円", Metric.REVENUE, 200_000, "JPY", (D(2025, 6, 16), D(2025, 6, 22))),
    ("今四半期で3000万円", Metric.REVENUE, 30_000_000, "JPY", (D(2025, 4, 1), D(2025, 6, 30))),
    ("来四半期に1億", Metric.REVENUE, 100_000_000, "JPY", (D(2025, 7, 1), D(2025, 9, 30))),
    ("今年1億円", Metric.REVENUE, 100_000_000, "JPY", (D(2025, 1, 1), D(2025, 12, 31))),
    ("年内に5000万円", Metric.REVENUE, 50_000_000, "JPY", (TODAY, D(2025, 12, 31))),
    ("月末までに100万円", Metric.REVENUE, 1_000_000, "JPY", (TODAY, D(2025, 6, 30))),
    ("来月末までに800万", Metric.REVENUE, 8_000_000, "JPY", (TODAY, D(2025, 7, 31))),
    ("2025年7月31日までに300万円", Metric.REVENUE, 3_000_000, "JPY", (TODAY, D(2025, 7, 31))),
    ("7月15日までに50万", Metric.REVENUE, 500_000, "JPY", (TODAY, D(2025, 7, 15))),
    ("3月31日までに1000万円", Metric.REVENUE, 10_000_000, "JPY", (TODAY, D(2026, 3, 31))),
    ("9月末までに2千万円", Metric.REVENUE, 20_000_000, "JPY", (TODAY, D(2025, 9, 30))),
    ("8/31までに120万", Metric.REVENUE, 1_200_000, "JPY", (TODAY, D(2025, 8, 31))),
    ("半年で1.5億", Metric.REVENUE, 150_000_000, "JPY", (TODAY, D(2025, 12, 10))),
    ("1年で10億円", Metric.REVENUE, 1_000_000_000, "JPY", (TODAY, D(2026, 6, 10))),
    ("2週間で150万円のトライアル売上", Metric.REVENUE, 1_500_000, "JPY", (TODAY, D(2025, 6, 24))),
    ("10日間で1.5万円", Metric.REVENUE, 15_000, "JPY", (TODAY, D(2025, 6, 20))),
    ("今日中に5万円", Metric.REVENUE, 50_000, "JPY", (TODAY, TODAY)),
    ("1週間で200万ドル", Metric.REVENUE, 200_000_000, "USD", (TODAY, D(2025, 6, 17))),
    ("Make $20k in 30 days", Metric.REVENUE, 2_000_000, "USD", (TODAY, D(2025, 7, 10))),
    ("Make $5k this week", Metric.REVENUE, 500_000, "USD", (D(2025, 6, 9), D(2025, 6, 15))),
    (
        "earn $1.5M by the end of the year",
        Metric.REVENUE,
        150_000_000,
        "USD",
        (TODAY, D(2025, 12, 31)),
    ),
    ("€3,000 in 2 weeks", Metric.REVENUE, 300_000, "EUR", (TODAY, D(2025, 6, 24))),
    ("5000 euros next month", Metric.REVENUE, 500_000, "EUR", (D(2025, 7, 1), D(2025, 7, 31))),
    ("USD 12,500 within 3 months", Metric.REVENUE, 1_250_000, "USD", (TODAY, D(2025, 9, 10))),
    ("1 million yen in a month", Metric.REVENUE, 1_000_000, "JPY", (TODAY, D(2025, 7, 10))),
    ("¥2,000,000 by 2025-07-31", Metric.REVENUE, 2_000_000, "JPY", (TODAY, D(2025, 7, 31))),
    ("$50k by March 31", Metric.REVENUE, 5_000_000, "USD", (TODAY, D(2026, 3, 31))),
    ("$8,000 by 30 June", Metric.REVENUE, 800_000, "USD", (TODAY, D(2025, 6, 30))),
    ("$25K by the end of this month", Metric.REVENUE, 2_500_000, "USD", (TODAY, D(2025, 6, 30))),
    (
        "revenue of 3 million dollars next quarter",
        Metric.REVENUE,
        300_000_000,
        "USD",
        (D(2025, 7, 1), D(2025, 9, 30)),
    ),
    ("make 200000 yen in ten days", Metric.REVENUE, 200_000, "JPY", (TODAY, D(2025, 6, 20))),
    ("$99.50 today", Metric.REVENUE, 9_950, "USD", (TODAY, TODAY)),
    (
        "Hit $2M in revenue this quarter",
        Metric.REVENUE,
        200_000_000,
        "USD",
        (D(2025, 4, 1), D(2025, 6, 30)),
    ),
    ("100人の新規顧客を2週間で", Metric.CUSTOMERS, 100, None, (TODAY, D(2025, 6, 24))),
    ("今月中に会員を50名増やす", Metric.CUSTOMERS, 50, None, (D(2025, 6, 1), D(2025, 6, 30))),
    ("get 200 new customers in 30 days", Metric.CUSTOMERS, 200, None, (TODAY, D(2025, 7, 10))),
    ("1万人の購読者を半年で", Metric.CUSTOMERS, 10_000, None, (TODAY, D(2025, 12, 10))),
    ("トライアル300件を今月中に", Metric.TRIALS, 300, None, (D(2025, 6, 1), D(2025, 6, 30))),
    ("500 trials in 3 weeks", Metric.TRIALS, 500, None, (TODAY, D(2025, 7, 1))),
    ("無料体験を1週間で40件", Metric.TRIALS, 40, None, (TODAY, D(2025, 6, 17))),
]


@pytest.mark.parametrize(("text", "metric", "amount", "currency", "period"), AMOUNT_AND_PERIOD)
def test_it_reads_amount_and_period(text, metric, amount, currency, period):
    goal = goal_parse(text, today=TODAY, default_currency="JPY")
    assert goal.metric == metric
    assert goal.target_amount == amount
    assert goal.currency == currency
    assert (goal.period.start, goal.period.end) == period
    assert goal.period.days == (period[1] - period[0]).days + 1
    assert goal.questions == ()
    assert goal.gaps == ()
    assert goal.fields_from["period"] == FieldSource.RULES
    assert goal.fields_from["target_amount"] == FieldSource.RULES


# (text, growth_pct, baseline (start, end), period or None)
GROWTH = [
    ("前月比20%増", Decimal(20), (D(2025, 5, 1), D(2025, 5, 31)), None),
    (
        "今月の売上を前月比20%増",
        Decimal(20),
        (D(2025, 5, 1), D(2025, 5, 31)),
        (D(2025, 6, 1), D(2025, 6, 30)),
    ),
    (
        "来月は前月比15%アップ",
        Decimal(15),
        (D(2025, 6, 1), D(2025, 6, 30)),
        (D(2025, 7, 1), D(2025, 7, 31)),
    ),
    (
        "今月、前年同月比10%増",
        Decimal(10),
        (D(2024, 6, 1), D(2024, 6, 30)),
        (D(2025, 6, 1), D(2025, 6, 30)),
    ),
    (
        "今月は前月比5%減",
        Decimal(-5),
        (D(2025, 5, 1), D(2025, 5, 31)),
        (D(2025, 6, 1), D(2025, 6, 30)),
    ),
    (
        "今月の売上を前月比2割アップ",
        Decimal(20),
        (D(2025, 5, 1), D(2025, 5, 31)),
        (D(2025, 6, 1), D(2025, 6, 30)),
    ),
    (
        "今週は前週比12.5%増",
        Decimal("12.5"),
        (D(2025, 6, 2), D(2025, 6, 8)),
        (D(2025, 6, 9), D(2025, 6, 15)),
    ),
    ("grow revenue 20% over last month", Decimal(20), (D(2025, 5, 1), D(2025, 5, 31)), None),
    (
        "Grow revenue 20% over last month this month",
        Decimal(20),
        (D(2025, 5, 1), D(2025, 5, 31)),
        (D(2025, 6, 1), D(2025, 6, 30)),
    ),
    (
        "revenue up 10% YoY next month",
        Decimal(10),
        (D(2024, 7, 1), D(2024, 7, 31)),
        (D(2025, 7, 1), D(2025, 7, 31)),
    ),
    (
        "increase sales 30% compared to last year this year",
        Decimal(30),
        (D(2024, 1, 1), D(2024, 12, 31)),
        (D(2025, 1, 1), D(2025, 12, 31)),
    ),
    (
        "revenue down 5% vs last month in 30 days",
        Decimal(-5),
        (D(2025, 5, 1), D(2025, 5, 31)),
        (TODAY, D(2025, 7, 10)),
    ),
    (
        "15% month-over-month growth this month",
        Decimal(15),
        (D(2025, 5, 1), D(2025, 5, 31)),
        (D(2025, 6, 1), D(2025, 6, 30)),
    ),
]


@pytest.mark.parametrize(("text", "pct", "baseline", "period"), GROWTH)
def test_it_reads_growth_and_baseline(text, pct, baseline, period):
    goal = goal_parse(text, today=TODAY, default_currency="JPY")
    assert goal.metric == Metric.REVENUE_GROWTH
    assert goal.growth_pct == pct
    assert (goal.baseline.start, goal.baseline.end) == baseline
    assert goal.fields_from["baseline"] == FieldSource.RULES
    if period is None:
        assert goal.period is None
        assert goal.gaps == ("period",)
    else:
        assert (goal.period.start, goal.period.end) == period
        assert goal.questions == ()


# (text, the fields still to ask, the question codes)
QUESTIONS = [
    ("来期に1億円", ("period",), ["ambiguous_fiscal_period"]),
    ("今期で5000万", ("period",), ["ambiguous_fiscal_period"]),
    ("make $10k soon", ("period",), ["vague_period"]),
    ("すぐに100万円ほしい", ("period",), ["vague_period"]),
    ("200万円作りたい", ("period",), ["no_period"]),
    ("売上を1週間で伸ばしたい", ("target_amount",), ["no_amount"]),
    ("increase revenue next month", ("target_amount",), ["no_amount"]),
    (
        "ワークフロー回してくれ",
        ("metric", "target_amount", "period"),
        ["no_metric", "no_amount", "no_period"],
    ),
    ("売上を20%伸ばす、今月", ("baseline",), ["no_baseline"]),
    ("今月は100万か200万", ("target_amount",), ["several_amounts"]),
    ("1週間か10日で100万", ("period",), ["several_periods"]),
    ("前月比10%増、または15%増を今月", ("growth_pct",), ["several_percents"]),
]


@pytest.mark.parametrize(("text", "gaps", "codes"), QUESTIONS)
def test_it_asks_instead_of_guessing(text, gaps, codes):
    goal = goal_parse(text, today=TODAY, default_currency="JPY")
    assert goal.gaps == gaps
    assert [question.code for question in goal.questions] == codes
    for field in gaps:
        assert getattr(goal, field) is None
        assert field not in goal.fields_from
    assert goal.needs_confirmation


# (text, error code, a word the message must contain)
BAD_INPUT = [
    ("0日で100万", "empty_period", "0日"),
    ("100年で1億", "period_too_long", "100年"),
    ("5000 days to make $1M", "period_too_long", "5000 days"),
    ("1週間で-200万", "negative_amount", "-200万"),
    ("マイナス100万円を今月", "negative_amount", "マイナス"),
    ("前月比-20%を今月", "negative_percent", "-20%"),
    ("今月は前月比0%増", "zero_percent", "0%"),
    ("今月は前月比5000%増", "percent_too_large", "5000%"),
    ("¥1.5を今日", "bad_precision", "JPY"),
    ("$0.001 today", "bad_precision", "USD"),
    ("2024年3月31日までに100万", "past_deadline", "2024-03-31"),
    ("2月30日までに100万", "bad_date", "2月30日"),
    ("今週0円", "zero_amount", "zero"),
    ("1週間で9999兆円", "amount_too_large", "too large"),
    ("   ", "empty", "empty"),
]


@pytest.mark.parametrize(("text", "code", "named"), BAD_INPUT)
def test_it_refuses_bad_input_naming_the_problem(text, code, named):
    with pytest.raises(GoalParseError) as caught:
        goal_parse(text, today=TODAY, default_currency="JPY")
    assert caught.value.code == code
    assert named in str(caught.value)


def test_it_bounds_the_text_before_reading_it():
    with pytest.raises(GoalParseError) as caught:
        goal_parse("1週間で200万" + "あ" * (10 * 1024 * 1024), today=TODAY, default_currency="JPY")
    assert caught.value.code == "text_too_long"
    assert str(MAX_TEXT_CHARS) in str(caught.value)


def test_it_bounds_text_that_nfkc_expands():
    # U+FDFA is one character that NFKC expands to eighteen.
    text = "\ufdfa" * (MAX_TEXT_CHARS // 2)
    with pytest.raises(GoalParseError) as caught:
        goal_parse(text, today=TODAY, default_currency="JPY")
    assert caught.value.code == "text_too_long"


def test_it_refuses_an_unknown_default_currency():
    with pytest.raises(GoalParseError) as caught:
        goal_parse("200万を1週間で", today=TODAY, default_currency="XYZ")
    assert "XYZ" in str(caught.value)


def test_a_bare_amount_takes_the_default_currency_and_says_so():
    yen = goal_parse("200万を1週間で", today=TODAY, default_currency="JPY")
    dollars = goal_parse("5000 in 10 days", today=TODAY, default_currency="USD")
    assert (yen.currency, yen.target_amount) == ("JPY", 2_000_000)
    assert (dollars.currency, dollars.target_amount) == ("USD", 500_000)
    assert yen.fields_from["currency"] == FieldSource.DEFAULT
    assert yen.needs_confirmation
    named = goal_parse("200万円を1週間で", today=TODAY, default_currency="USD")
    assert named.currency == "JPY"
    assert named.fields_from["currency"] == FieldSource.RULES
    assert not named.needs_confirmation


def test_to_json_gives_the_issue_shape():
    goal = goal_parse(
        "1週間で200万作りたい、ワークフロー回してくれ", today=TODAY, default_currency="JPY"
    )
    assert goal.to_json() == {
        "metric": "revenue",
        "target_amount": "2000000",
        "currency": "JPY",
        "growth_pct": None,
        "baseline": None,
        "period": {"start": "2025-06-11", "end": "2025-06-17", "days": 7},
        "fields_from": {
            "metric": "rules",
            "target_amount": "rules",
            "currency": "default",
            "period": "rules",
        },
        "questions": [],
        "gaps": [],
    }


def test_to_json_writes_cents_as_major_units_and_growth_with_its_baseline():
    dollars = goal_parse("$5k in 30 days", today=TODAY, default_currency="JPY").to_json()
    assert (dollars["target_amount"], dollars["currency"]) == ("5000.00", "USD")
    growth = goal_parse("前月比20%増", today=TODAY, default_currency="JPY").to_json()
    assert growth["growth_pct"] == "20"
    assert growth["baseline"] == {"start": "2025-05-01", "end": "2025-05-31", "amount": None}
    assert growth["questions"][0]["code"] == "no_period"


def test_the_result_is_frozen():
    goal = goal_parse("200万を1週間で", today=TODAY, default_currency="JPY")
    with pytest.raises(AttributeError):
        goal.target_amount = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("二百万", 2_000_000),
        ("1億5千万", 150_000_000),
        ("三千", 3000),
        ("千", 1000),
        ("十二", 12),
        ("2,000,000", 2_000_000),
        ("1.5万", 15_000),
        ("一億二千三百四十五万六千七百八十九", 123_456_789),
    ],
)
def test_kanji_numerals(text, value):
    assert japanese_number(text) == value


def test_kanji_in_ordinary_words_is_not_an_amount():
    # 十分 ("enough") and 一緒 must not become 10 or 1.
    goal = goal_parse("十分な売上を一緒に1週間で", today=TODAY, default_currency="JPY")
    assert goal.target_amount is None
    assert goal.gaps == ("target_amount",)
