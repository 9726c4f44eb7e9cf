"""``bizagent.llm.structured``'s compiled check (fastjsonschema), against the full validator:
on every role's schema, for valid answers and for thousands of broken ones (each field
replaced by a value of every other kind, out of range, too long, missing, extra), the
check accepts exactly what the validator accepts, and ``schema_errors`` names the same
violations it did before the check existed."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any

import pytest

from bizagent.llm import structured
from bizagent.llm.structured import _compile, schema_check, schema_errors
from goals.roles import HANDLERS

SCHEMAS = {role: handler.spec.response_format.schema for role, handler in HANDLERS.items()}

PROBES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2.0,
    1.5,
    10,
    10.5,
    11,
    10**20,
    math.nan,
    "",
    "x",
    "keep",
    "x" * 5000,
    [],
    [1],
    [1, 1],
    [1, 1.0],
    [True, 1],
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21],
    [[1], [1]],
    ["a"],
    {},
    {"extra": 1},
]


def _valid(schema: dict[str, Any]) -> Any:
    """A small valid value of ``schema`` (the subset our role schemas use)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object":
        return {name: _valid(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        count = max(schema.get("minItems", 0), 1)
        count = min(count, schema.get("maxItems", count))
        item = schema.get("items", {})
        if schema.get("uniqueItems") and item.get("type") in ("integer", "number"):
            return [i + max(1, item.get("minimum", 1)) for i in range(count)]
        if schema.get("uniqueItems") and item.get("type") == "string":
            return [f"v{i}" for i in range(count)]
        return [_valid(item) for _ in range(count)]
    if kind == "string":
        return "s" * max(schema.get("minLength", 0), 1)
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 1), schema.get("maximum", 100)
        return (low + high) // 2 if kind == "integer" else (low + high) / 2
    if kind == "boolean":
        return True
    return None


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    if not path:
        return copy.deepcopy(new)
    value = copy.deepcopy(value)
    holder = value
    for part in path[:-1]:
        holder = holder[part]
    holder[path[-1]] = copy.deepcopy(new)
    return value


def _broken(valid: Any) -> list[Any]:
    """Every path's value replaced by every probe; every key removed; an extra key added
    to every object."""
    broken = [_replaced(valid, path, probe) for path in _paths(valid) for probe in PROBES]
    for path in _paths(valid):
        holder = valid
        for part in path:
            holder = holder[part]
        if isinstance(holder, dict):
            for key in holder:
                smaller = copy.deepcopy(holder)
                del smaller[key]
                broken.append(_replaced(valid, path, smaller))
            broken.append(_replaced(valid, path, {**holder, "surplus": 1}))
    return broken


@pytest.mark.parametrize("role", sorted(SCHEMAS))
def test_the_check_accepts_exactly_what_the_validator_accepts(role):
    schema = SCHEMAS[role]
    check = _compile(schema)
    assert check is not None, "every role schema is compiled: the fast path is used"
    validator = schema_check(schema)
    valid = _valid(schema)
    assert validator.is_valid(valid) and check(valid)

    verdicts = [(check(value), validator.is_valid(value)) for value in _broken(valid)]

    assert [fast for fast, _ in verdicts] == [full for _, full in verdicts]
    assert sum(not full for _, full in verdicts) > 50  # the probes did break answers


@pytest.mark.parametrize("role", sorted(SCHEMAS))
def test_schema_errors_names_what_the_validator_names(role):
    schema = SCHEMAS[role]
    structured._fast_check_for.cache_clear()
    valid = _valid(schema)
    values = [valid, *itertools.islice(_broken(valid), 0, None, 7)]
    with_check = [schema_errors(value, schema) for value in values]

    original = structured._fast_check_for
    try:
        structured._fast_check_for = lambda canonical: None  # type: ignore[assignment]
        without = [schema_errors(value, schema) for value in values]
    finally:
        structured._fast_check_for = original

    assert with_check == without
    assert any(with_check) and not with_check[0]


@pytest.mark.parametrize(
    ("schema", "broken"),
    [
        ({"type": "object", "patternProperties": {"^a": {"type": "string"}}}, {"ab": 1}),
        ({"type": "array", "prefixItems": [{"type": "string"}]}, [1]),
        ({"anyOf": [{"type": "string"}, {"type": "null"}]}, 3),
        ({"enum": [1, "a"]}, True),
        ({"const": 1}, True),
        ({"type": "string", "format": "email"}, 3),
        ({"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "string"}, 3),
        ({"type": "array", "items": False}, ["b"]),
        ({"type": "string", "pattern": "^a"}, "b"),
    ],
)
def test_a_keyword_the_check_does_not_know_leaves_the_verdict_to_the_validator(schema, broken):
    assert _compile(schema) is None
    assert schema_errors(broken, schema)


BOUNDARIES: list[tuple[dict[str, Any], list[Any]]] = [
    (
        {"type": "string", "minLength": 3, "maxLength": 5},
        ["ab", "abc", "abcde", "abcdef", "茶茶茶"],
    ),
    ({"type": "array", "minItems": 2, "maxItems": 3}, [[1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]),
    ({"type": "object", "minProperties": 2}, [{"a": 1}, {"a": 1, "b": 2}, []]),
    ({"type": "number", "minimum": 0.05, "maximum": 0.95}, [0.04, 0.05, 0.95, 0.96, True, 1]),
    ({"type": "integer", "minimum": 1, "maximum": 100}, [0, 1, 100, 101, 2.0, 2.5, True, False]),
    ({"type": ["object", "null"], "required": ["a"]}, [None, {}, {"a": 1}, [], "a"]),
    ({"enum": ["keep", "refine"]}, ["keep", "Keep", "", None, 1]),
    (
        {"type": "array", "uniqueItems": True},
        [
            [1, 2],
            [1, 1],
            [1, 1.0],
            [True, 1],
            [False, 0],
            [None, None],
            ["a", "a"],
            [math.nan, math.nan],
        ],
    ),
    (
        {"type": "object", "additionalProperties": {"type": "integer"}, "properties": {"a": {}}},
        [{"a": "x", "b": 1}, {"b": "x"}, {}],
    ),
    (
        {"type": "object", "additionalProperties": False, "properties": {"a": {}}},
        [{"a": 1}, {"b": 1}],
    ),
]


@pytest.mark.parametrize(("schema", "values"), BOUNDARIES)
def test_at_every_boundary_the_check_agrees_with_the_validator(schema, values):
    check = _compile(schema)
    assert check is not None
    validator = schema_check(schema)

    assert [check(value) for value in values] == [validator.is_valid(value) for value in values]


def test_unique_containers_are_judged_as_the_validator_judges_them():
    """Arrays of arrays or objects: distinct ones pass both, duplicates (1 and 1.0 alike)
    are refused by the check and named by the validator."""
    schema = {"type": "array", "uniqueItems": True}
    check = _compile(schema)
    assert check is not None

    assert check([[1], [2]]) and schema_errors([[1], [2]], schema) == []
    assert not check([{"a": 1}, {"a": 1.0}])
    assert schema_errors([{"a": 1}, {"a": 1.0}], schema)
