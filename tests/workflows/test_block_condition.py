"""condition: every operator, kind mismatches as errors, bounded regular expressions."""

from __future__ import annotations

import pytest

from tests.workflows.blockctx import block_run
from workflows.blocks import block_get
from workflows.blocks.base import BlockConfigError
from workflows.blocks.operators import REGEX_MAX_PATTERN, REGEX_MAX_TEXT


def _check(operator, value, operand=None):
    config = {"value": value, "operator": operator}
    if operand is not None or operator in ("equals", "not_equals"):
        config["operand"] = operand
    return block_run("condition", config)


@pytest.mark.parametrize(
    ("operator", "value", "operand", "expected"),
    [
        ("equals", "a", "a", True),
        ("equals", 3, 3.0, True),
        ("equals", {"a": [1]}, {"a": [1]}, True),
        ("equals", "a", "b", False),
        ("equals", None, "a", False),
        ("equals", True, True, True),
        ("not_equals", "a", "b", True),
        ("not_equals", 2, 2, False),
        ("contains", "hello world", "world", True),
        ("contains", "hello", "bye", False),
        ("contains", [1, "x", {"k": 1}], {"k": 1}, True),
        ("contains", [1, 2], True, False),
        ("contains", {"key": 1}, "key", True),
        ("not_contains", "hello", "bye", True),
        ("not_contains", ["a"], "a", False),
        ("greater", 5, 3, True),
        ("greater", 3, 3, False),
        ("greater_or_equal", 3, 3, True),
        ("less", 2.5, 3, True),
        ("less_or_equal", 4, 3, False),
        ("greater", "2024-06-02", "2024-06-01", True),
        ("exists", 0, None, True),
        ("exists", None, None, False),
        ("not_exists", None, None, True),
        ("not_exists", "", None, False),
        ("is_empty", "", None, True),
        ("is_empty", [], None, True),
        ("is_empty", {}, None, True),
        ("is_empty", None, None, True),
        ("is_empty", "x", None, False),
        ("is_true", True, None, True),
        ("is_true", "false", None, False),
        ("matches_regex", "order #1234", r"#\d{4}\b", True),
        ("matches_regex", "order", r"^\d+$", False),
        ("matches_regex", "foobarfoo!", r"^(foo|bar)+!$", True),
    ],
)
def test_each_operator_leaves_by_its_result(operator, value, operand, expected):
    result = _check(operator, value, operand)
    assert result.output == {"result": expected, "value": value}
    assert result.port == ("true" if expected else "false")


@pytest.mark.parametrize(
    ("operator", "value", "operand", "says"),
    [
        ("greater", "abc", 3, 'two numbers or two strings; got string "abc" and number 3'),
        ("less", [1], [2], "two numbers or two strings"),
        ("equals", "3", 3, 'same kind (or null); got string "3" and number 3'),
        ("equals", True, 1, "same kind"),
        ("contains", 42, "4", "text, a list or an object"),
        ("contains", "abc", 1, "text with text"),
        ("contains", {"a": 1}, 1, "an object with a key"),
    ],
)
def test_a_kind_mismatch_is_a_config_error_not_a_silent_false(operator, value, operand, says):
    with pytest.raises(BlockConfigError) as caught:
        _check(operator, value, operand)
    assert says in str(caught.value)
    assert str(caught.value).startswith(operator)


def test_is_empty_and_is_true_refuse_values_they_cannot_judge():
    with pytest.raises(BlockConfigError, match=r"is_empty applies to text.*got number 0"):
        _check("is_empty", 0)
    with pytest.raises(BlockConfigError, match=r'is_true applies to true.*got string "yes"'):
        _check("is_true", "yes")


@pytest.mark.parametrize(
    ("pattern", "says"),
    [
        (r"(a+)+b", "inside another repeat"),
        (r"(x*)*", "inside another repeat"),
        (r"(a|ab)*c", "alternatives (a|b) inside a repeat"),
        (r"(a|a)+", "alternatives (a|b) inside a repeat"),
        (r"(a)\1", "backreferences are not allowed"),
        ("a" * (REGEX_MAX_PATTERN + 1), f"at most {REGEX_MAX_PATTERN}"),
        (r"(unclosed", "is not a regular expression"),
    ],
)
def test_dangerous_or_broken_patterns_are_refused_at_save_and_at_run_time(pattern, says):
    block = block_get("condition")
    config = {"value": "x", "operator": "matches_regex", "operand": pattern}
    problems = block.config_problems(config)
    assert len(problems) == 1 and problems[0][0] == "operand" and says in problems[0][1]
    # A pattern that arrives through a template is checked when the step runs.
    with pytest.raises(BlockConfigError, match=r"matches_regex: .*"):
        block_run(
            "condition",
            {"value": "aaaa", "operator": "matches_regex", "operand": "{{ input.p }}"},
            scope={"input": {"p": pattern}},
        )


def test_a_catastrophic_pattern_never_runs():
    # (a+)+b on 40 a's would backtrack for hours with Python's re.
    with pytest.raises(BlockConfigError, match="inside another repeat"):
        _check("matches_regex", "a" * 40, r"(a+)+b")


def test_regex_text_is_bounded():
    with pytest.raises(BlockConfigError, match=f"at most {REGEX_MAX_TEXT} characters"):
        _check("matches_regex", "a" * (REGEX_MAX_TEXT + 1), "a")
    with pytest.raises(BlockConfigError, match="searches text; got number"):
        _check("matches_regex", 5, "5")


def test_config_problems_name_a_missing_operand_and_an_unknown_operator():
    block = block_get("condition")
    assert block.config_problems({"value": 1, "operator": "greater"}) == [
        ("operand", "greater needs an operand")
    ]
    assert block.config_problems({"value": 1, "operator": "exists"}) == []
    (problem,) = block.config_problems({"value": 1, "operator": "bigger", "operand": 2})
    assert problem[0] == "operator" and "unknown operator 'bigger'" in problem[1]


def test_values_come_from_templates_with_their_json_kind():
    result = block_run(
        "condition",
        {"value": "{{ steps.total.output.sum }}", "operator": "greater", "operand": 100},
        scope={"steps": {"total": {"output": {"sum": 250}, "port": "out", "status": "succeeded"}}},
    )
    assert result.port == "true" and result.output["value"] == 250


def test_its_ports_are_true_and_false_and_it_is_logic():
    block = block_get("condition")
    assert block.ports({"value": 1, "operator": "exists"}) == ("true", "false")
    assert (block.category, block.can_be_tool, block.side_effects) == ("logic", False, False)
