"""The comparison operators shared by ``condition`` and ``switch`` (one table, two blocks).

Comparisons are strict about JSON kinds: ``greater`` on a string and a number, or
``contains`` on a number, is a ``BlockConfigError`` naming both values, never a silent
``false`` that would send a run down the wrong branch.

``matches_regex`` uses Python's ``re`` behind three bounds instead of a new dependency
(RE2 is not installed): the pattern is at most ``REGEX_MAX_PATTERN`` characters, the text
searched at most ``REGEX_MAX_TEXT``, and patterns whose backtracking can blow up are
refused up front: an unbounded repeat inside another unbounded repeat (``(a+)+``), an
unbounded repeat over alternatives that may overlap (``(a|ab)*``) and backreferences.
What is left runs in time polynomial in a text of bounded length.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable
from typing import Any

from workflows.blocks.base import BlockConfigError

REGEX_MAX_PATTERN = 200
REGEX_MAX_TEXT = 10_000

#: Operators that compare ``value`` with ``operand``; the others look at ``value`` alone.
BINARY = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "greater",
    "greater_or_equal",
    "less",
    "less_or_equal",
    "matches_regex",
)
UNARY = ("exists", "not_exists", "is_empty", "is_true")
OPERATORS = BINARY + UNARY

OPERATOR_SCHEMA: dict[str, Any] = {
    "type": "string",
    "enum": list(OPERATORS),
    "description": (
        "How to compare: equals, not_equals (same JSON kind, or null); contains, "
        "not_contains (text in text, an item in a list, a key in an object); greater, "
        "greater_or_equal, less, less_or_equal (two numbers or two strings, e.g. ISO "
        "dates); exists, not_exists (value is not / is null); is_empty (null, '', [] or "
        "{}); is_true (true or 'true'); matches_regex (operand is a Python regular "
        f"expression of at most {REGEX_MAX_PATTERN} characters, searched in text of at "
        f"most {REGEX_MAX_TEXT} characters; nested or ambiguous repeats and "
        "backreferences are refused)."
    ),
}


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _mismatch(operator: str, value: Any, operand: Any, expected: str) -> BlockConfigError:
    return BlockConfigError(
        f"{operator} compares {expected}; got {_kind(value)} {_show(value)} and "
        f"{_kind(operand)} {_show(operand)}"
    )


def _same(value: Any, operand: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true never equals 1."""
    if _kind(value) != _kind(operand):
        return False
    if isinstance(value, list):
        return len(value) == len(operand) and all(map(_same, value, operand))
    if isinstance(value, dict):
        return value.keys() == operand.keys() and all(_same(value[k], operand[k]) for k in value)
    return bool(value == operand)


def _equals(value: Any, operand: Any, operator: str) -> bool:
    if None not in (value, operand) and _kind(value) != _kind(operand):
        raise _mismatch(operator, value, operand, "two values of the same kind (or null)")
    return _same(value, operand)


def _contains(value: Any, operand: Any, operator: str) -> bool:
    if isinstance(value, str):
        if not isinstance(operand, str):
            raise _mismatch(operator, value, operand, "text with text")
        return operand in value
    if isinstance(value, list):
        return any(_same(item, operand) for item in value)
    if isinstance(value, dict):
        if not isinstance(operand, str):
            raise _mismatch(operator, value, operand, "an object with a key (text)")
        return operand in value
    raise _mismatch(operator, value, operand, "text, a list or an object with an operand")


def _order(value: Any, operand: Any, operator: str) -> int:
    kinds = (_kind(value), _kind(operand))
    if kinds not in (("number", "number"), ("string", "string")):
        raise _mismatch(operator, value, operand, "two numbers or two strings")
    if kinds == ("number", "number") and (math.isnan(value) or math.isnan(operand)):
        raise _mismatch(operator, value, operand, "numbers (not NaN)")
    return (value > operand) - (value < operand)


def _is_empty(value: Any, operator: str) -> bool:
    if value is None:
        return True
    if isinstance(value, str | list | dict):
        return len(value) == 0
    raise BlockConfigError(
        f"is_empty applies to text, a list, an object or null; got {_kind(value)} {_show(value)}"
    )


def _is_true(value: Any, operator: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise BlockConfigError(
        f"is_true applies to true, false, 'true' or 'false'; got {_kind(value)} {_show(value)}"
    )


# --- regular expressions -------------------------------------------------------------

_parser: Any = importlib.import_module("re._parser")
_constants: Any = importlib.import_module("re._constants")


def _unbounded(op: Any, args: Any) -> bool:
    return op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT) and (
        args[1] == _constants.MAXREPEAT
    )


def _children(op: Any, args: Any) -> list[Any]:
    """The sub-patterns of one parsed node (a list of ``(op, args)`` sequences)."""
    if op in (_constants.MAX_REPEAT, _constants.MIN_REPEAT, _constants.POSSESSIVE_REPEAT):
        return [args[2]]
    if op == _constants.SUBPATTERN:
        return [args[3]]
    if op == _constants.BRANCH:
        return list(args[1])
    if op in (_constants.ASSERT, _constants.ASSERT_NOT):
        return [args[1]]
    if op == _constants.ATOMIC_GROUP:
        return [args]
    if op == _constants.GROUPREF_EXISTS:
        return [part for part in args[1:] if part is not None]
    return []


def _literal_branch_is_safe(alternatives: list[Any]) -> bool:
    """``(foo|bar)+`` is safe: plain literals whose first characters all differ."""
    firsts = []
    for alternative in alternatives:
        items = list(alternative)
        if not items or any(op != _constants.LITERAL for op, _ in items):
            return False
        firsts.append(items[0][1])
    return len(set(firsts)) == len(firsts)


def _regex_hazard(nodes: Any, *, inside_repeat: bool) -> str | None:
    for op, args in nodes:
        if op in (_constants.GROUPREF, _constants.GROUPREF_EXISTS):
            return "backreferences are not allowed"
        if inside_repeat and _unbounded(op, args):
            return "a repeat (+, *, {n,}) inside another repeat can take exponential time"
        if inside_repeat and op == _constants.BRANCH and not _literal_branch_is_safe(args[1]):
            return (
                "alternatives (a|b) inside a repeat can take exponential time; use a "
                "character class such as [ab]+ or literal words starting differently"
            )
        nested = inside_repeat or _unbounded(op, args)
        for child in _children(op, args):
            problem = _regex_hazard(child, inside_repeat=nested)
            if problem:
                return problem
    return None


def regex_problem(pattern: Any) -> str | None:
    """Why ``pattern`` may not be used by ``matches_regex``, or None when it may."""
    if not isinstance(pattern, str):
        return f"the pattern must be text, not {_kind(pattern)}"
    if len(pattern) > REGEX_MAX_PATTERN:
        return f"the pattern has {len(pattern)} characters; at most {REGEX_MAX_PATTERN}"
    try:
        parsed = _parser.parse(pattern)
    except re.error as exc:
        return f"the pattern {pattern!r} is not a regular expression: {exc}"
    hazard = _regex_hazard(list(parsed), inside_repeat=False)
    return f"the pattern {pattern!r} is refused: {hazard}" if hazard else None


def _matches(value: Any, operand: Any, operator: str) -> bool:
    problem = regex_problem(operand)
    if problem:
        raise BlockConfigError(f"matches_regex: {problem}")
    if not isinstance(value, str):
        raise BlockConfigError(f"matches_regex searches text; got {_kind(value)} {_show(value)}")
    if len(value) > REGEX_MAX_TEXT:
        raise BlockConfigError(
            f"matches_regex searches at most {REGEX_MAX_TEXT} characters; the value has "
            f"{len(value)}"
        )
    return re.search(operand, value) is not None


_BINARY: dict[str, Callable[[Any, Any, str], bool]] = {
    "equals": _equals,
    "not_equals": lambda v, o, op: not _equals(v, o, op),
    "contains": _contains,
    "not_contains": lambda v, o, op: not _contains(v, o, op),
    "greater": lambda v, o, op: _order(v, o, op) > 0,
    "greater_or_equal": lambda v, o, op: _order(v, o, op) >= 0,
    "less": lambda v, o, op: _order(v, o, op) < 0,
    "less_or_equal": lambda v, o, op: _order(v, o, op) <= 0,
    "matches_regex": _matches,
}
_UNARY: dict[str, Callable[[Any, str], bool]] = {
    "exists": lambda v, op: v is not None,
    "not_exists": lambda v, op: v is None,
    "is_empty": _is_empty,
    "is_true": _is_true,
}


def compare(operator: str, value: Any, operand: Any = None) -> bool:
    """Apply ``operator``; ``BlockConfigError`` on an unknown operator or a kind mismatch."""
    if operator in _UNARY:
        return _UNARY[operator](value, operator)
    if operator in _BINARY:
        return _BINARY[operator](value, operand, operator)
    raise BlockConfigError(f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)}")


def comparison_problems(
    operator: Any, operand: Any, *, has_operand: bool, path: str
) -> list[tuple[str, str]]:
    """Save-time checks of one comparison (config still holds templates)."""
    problems: list[tuple[str, str]] = []
    if operator not in OPERATORS:
        problems.append(
            (f"{path}operator", f"unknown operator {operator!r}; use one of {', '.join(OPERATORS)}")
        )
        return problems
    if operator in BINARY and not has_operand:
        problems.append((f"{path}operand", f"{operator} needs an operand"))
    # A pattern built from a template is only known at run time (and checked then).
    templated = isinstance(operand, str) and "{{" in operand
    if operator == "matches_regex" and has_operand and not templated:
        problem = regex_problem(operand)
        if problem:
            problems.append((f"{path}operand", problem))
    return problems
