"""The goal parser: a sentence in Japanese or English to a ParsedGoal, by a rule table.

Pure (no ORM, no settings, no clock): callers pass ``today`` and ``default_currency``.
``numbers`` reads amounts, ``periods`` periods, ``percent`` growth and baselines;
``goal`` combines them. Windows are inclusive at both ends.
"""

from goals.parsing.goal import MAX_TEXT_CHARS, goal_parse
from goals.parsing.result import (
    CURRENCY_EXPONENTS,
    DateWindow,
    FieldSource,
    GoalParseError,
    Metric,
    ParsedGoal,
    Question,
)

__all__ = [
    "CURRENCY_EXPONENTS",
    "MAX_TEXT_CHARS",
    "DateWindow",
    "FieldSource",
    "GoalParseError",
    "Metric",
    "ParsedGoal",
    "Question",
    "goal_parse",
]
