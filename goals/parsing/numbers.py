"""Amounts in Japanese and English: 200万, 二百万, 1億5千万, ¥2,000,000, $5k, €1.5M, 50人.

Input is already NFKC-normalised (full-width digits and ￥ folded). We convert kanji
numerals with a small converter of our own rather than ``kanjize``: the grammar we need
(digits or kanji digits, 十百千 inside a 万/億/兆 section, Arabic digits mixed in as in
"1億5千万" or "1.5万") fits in thirty lines, and one dependency fewer is one less thing to
pin. Everything here is pure and returns Decimals in major units; ``to_minor`` applies the
currency's exponent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from goals.parsing.result import CURRENCY_EXPONENTS, GoalParseError

KANJI_DIGITS = {char: value for value, char in enumerate("〇一二三四五六七八九")} | {"零": 0}
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
BIG_UNITS = {"万": 10**4, "億": 10**8, "兆": 10**12}
ENGLISH_MULTIPLIERS = {
    "k": 10**3,
    "thousand": 10**3,
    "m": 10**6,
    "mn": 10**6,
    "million": 10**6,
    "b": 10**9,
    "bn": 10**9,
    "billion": 10**9,
}

# The largest target accepted, in minor units; beyond it the text is a typo, not a goal.
MAX_MINOR_AMOUNT = 10**15
MAX_COUNT = 10**9

_ARABIC = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
_KANJI = "〇零一二三四五六七八九十百千万億兆"
_CURRENCY_WORDS = {
    "¥": "JPY",
    "円": "JPY",
    "yen": "JPY",
    "jpy": "JPY",
    "$": "USD",
    "us$": "USD",
    "usd": "USD",
    "ドル": "USD",
    "dollar": "USD",
    "dollars": "USD",
    "bucks": "USD",
    "€": "EUR",
    "eur": "EUR",
    "ユーロ": "EUR",
    "euro": "EUR",
    "euros": "EUR",
}
_COUNT_UNITS = (
    r"人|名|件|社|customers?|clients?|users?|members?|subscribers?|trials?|sign-?ups?|buyers?"
)

AMOUNT_RE = re.compile(
    rf"""
    (?P<minus>[-−‐–]\s*|マイナス\s*|minus\s+)?
    (?P<prefix>us\$|[¥$€]|(?:usd|jpy|eur)(?=\s*\d))?\s*
    (?P<number>(?:{_ARABIC}|[{_KANJI}])+)
    (?:\s*(?P<suffix>thousand|million|billion|mn|bn|k|m|b)(?![a-z]))?
    \s*(?P<unit>円|ドル|ユーロ|yen|jpy|usd|eur|dollars?|bucks|euros?|{_COUNT_UNITS})?
    """,
    re.VERBOSE | re.IGNORECASE,
)


class AmountKind(Enum):
    MONEY = "money"  # a currency was named (symbol, code or word)
    COUNT = "count"  # a count unit followed (人, customers, trials)
    BARE = "bare"  # a number with neither: money in the default currency, or a count


@dataclass(frozen=True)
class AmountMatch:
    value: Decimal  # major units (or a count)
    kind: AmountKind
    currency: str | None
    unit: str | None
    span: tuple[int, int]


def japanese_number(text: str) -> Decimal:
    """Convert "二百万", "1億5千万", "1.5万", "2,000,000", "三千" into a Decimal.

    Within a 万/億/兆 section, 十百千 multiply the digit before them (or 1: "千" is
    1000); a big unit closes the section. Kanji digits in a row are positional
    ("二〇" is 20), as are Arabic digits.
    """
    total = Decimal(0)
    section = Decimal(0)
    current: Decimal | None = None
    position = 0
    compact = text.replace(",", "")
    if not compact:
        raise GoalParseError("bad_number", f"{text!r} is not a number")
    while position < len(compact):
        arabic = re.match(r"\d+(?:\.\d+)?", compact[position:])
        char = compact[position]
        if arabic:
            if current is not None:
                raise GoalParseError("bad_number", f"{text!r} is not a number")
            current = Decimal(arabic.group())
            position += len(arabic.group())
            continue
        if char in KANJI_DIGITS:
            current = (current or Decimal(0)) * 10 + KANJI_DIGITS[char]
        elif char in SMALL_UNITS:
            section += (current if current is not None else Decimal(1)) * SMALL_UNITS[char]
            current = None
        elif char in BIG_UNITS:
            section += current or Decimal(0)
            total += (section or Decimal(1)) * BIG_UNITS[char]
            section = Decimal(0)
            current = None
        else:
            raise GoalParseError("bad_number", f"{text!r} is not a number")
        position += 1
    return total + section + (current or Decimal(0))


def _is_number_candidate(number: str, unit: str | None, prefix: str | None) -> bool:
    """Kanji digits occur in ordinary words (十分 "enough", 一緒, 一気に), so a kanji-only
    run is an amount only with a big unit (万億兆) or a currency/count next to it."""
    if any(ch.isdigit() for ch in number):
        return True
    return any(ch in BIG_UNITS for ch in number) or bool(unit) or bool(prefix)


def amounts_find(text: str) -> list[AmountMatch]:
    """Every amount in ``text`` (which should have percentages and periods masked out).

    Raises GoalParseError for a negative amount or two different currencies on one.
    """
    found: list[AmountMatch] = []
    for match in AMOUNT_RE.finditer(text):
        number = match.group("number")
        prefix = (match.group("prefix") or "").lower() or None
        unit = (match.group("unit") or "").lower() or None
        if not _is_number_candidate(number, unit, prefix):
            continue
        value = japanese_number(number)
        suffix = (match.group("suffix") or "").lower()
        if suffix:
            value *= ENGLISH_MULTIPLIERS[suffix]
        if match.group("minus"):
            raise GoalParseError(
                "negative_amount",
                f"the amount {match.group().strip()!r} is negative; a goal needs a positive target",
            )
        currencies = {_CURRENCY_WORDS[word] for word in (prefix, unit) if word in _CURRENCY_WORDS}
        if len(currencies) > 1:
            raise GoalParseError(
                "conflicting_currency",
                f"the amount {match.group().strip()!r} names two currencies",
            )
        if currencies:
            kind, currency = AmountKind.MONEY, currencies.pop()
        elif unit:
            kind, currency = AmountKind.COUNT, None
        else:
            kind, currency = AmountKind.BARE, None
        found.append(AmountMatch(value, kind, currency, unit, match.span()))
    return found


def to_minor(value: Decimal, *, currency: str) -> int:
    """Major units to the currency's minor unit, refusing what the currency cannot hold
    (¥1.5, $0.001) and absurd sizes rather than rounding them silently."""
    exponent = CURRENCY_EXPONENTS[currency]
    minor = value.scaleb(exponent)
    if minor != minor.to_integral_value():
        raise GoalParseError(
            "bad_precision",
            f"{value} {currency} has more decimal places than {currency} allows",
        )
    if minor <= 0:
        raise GoalParseError(
            "zero_amount", "the target amount is zero; a goal needs a positive target"
        )
    if minor > MAX_MINOR_AMOUNT:
        raise GoalParseError("amount_too_large", f"{value} {currency} is too large to be a goal")
    return int(minor)


def to_count(value: Decimal) -> int:
    """A count of customers or trials: a positive whole number."""
    if value != value.to_integral_value() or value <= 0:
        raise GoalParseError("bad_count", f"{value} is not a positive whole number of people")
    if value > MAX_COUNT:
        raise GoalParseError("count_too_large", f"{value} is too large to be a goal")
    return int(value)
