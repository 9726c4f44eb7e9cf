"""switch: first matching case wins, case ports, default, and no default."""

from __future__ import annotations

import pytest

from tests.workflows.blockctx import block_run
from workflows.blocks import block_get
from workflows.blocks.base import BlockConfigError

CASES = [
    {"key": "big", "operator": "greater", "operand": 1000},
    {"key": "medium", "operator": "greater", "operand": 100},
    {"key": "exact", "operand": 50},
]


@pytest.mark.parametrize(
    ("value", "port", "case"),
    [
        (5000, "case:big", "big"),  # greater than 100 too: the first match wins
        (500, "case:medium", "medium"),
        (50, "case:exact", "exact"),  # operator defaults to equals
        (7, "default", None),
    ],
)
def test_the_first_matching_case_decides_the_port(value, port, case):
    result = block_run("switch", {"value": value, "cases": CASES})
    assert result.port == port
    assert result.output == {"case": case, "value": value}


def test_without_a_default_an_unmatched_value_fails_the_step():
    with pytest.raises(
        BlockConfigError, match="no case matched the value 7 and the switch has no default port"
    ):
        block_run("switch", {"value": 7, "cases": CASES, "default": False})


def test_ports_are_one_per_case_plus_default():
    block = block_get("switch")
    assert block.ports({"value": 1, "cases": CASES}) == (
        "case:big",
        "case:medium",
        "case:exact",
        "default",
    )
    assert block.ports({"value": 1, "cases": CASES, "default": False}) == (
        "case:big",
        "case:medium",
        "case:exact",
    )


def test_config_problems_name_a_repeated_key_and_each_case_operator():
    block = block_get("switch")
    problems = block.config_problems(
        {
            "value": 1,
            "cases": [
                {"key": "a", "operand": 1},
                {"key": "a", "operand": 2},
                {"key": "b", "operator": "less"},
                {"key": "c", "operator": "matches_regex", "operand": "(a+)+"},
            ],
        }
    )
    assert problems[0] == ("cases.1.key", "case 'a' appears twice")
    assert problems[1] == ("cases.2.operand", "less needs an operand")
    assert problems[2][0] == "cases.3.operand" and "inside another repeat" in problems[2][1]


def test_a_case_key_must_be_a_port_friendly_name():
    with pytest.raises(BlockConfigError, match="does not match"):
        block_run("switch", {"value": 1, "cases": [{"key": "has space", "operand": 1}]})


def test_a_kind_mismatch_in_a_case_fails_the_step():
    with pytest.raises(BlockConfigError, match="greater compares two numbers or two strings"):
        block_run("switch", {"value": "abc", "cases": CASES})


def test_it_switches_on_a_template_value():
    result = block_run(
        "switch",
        {
            "value": "{{ steps.classify.output.label }}",
            "cases": [{"key": "refund", "operand": "refund"}, {"key": "bug", "operand": "bug"}],
        },
        scope={"steps": {"classify": {"output": {"label": "bug"}, "port": "out"}}},
    )
    assert result.port == "case:bug"


def test_it_is_a_logic_block_that_cannot_be_a_tool():
    block = block_get("switch")
    assert (block.category, block.can_be_tool, block.side_effects) == ("logic", False, False)
