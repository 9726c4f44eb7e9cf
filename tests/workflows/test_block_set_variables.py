"""set-variables: strict conversion, errors naming the variable and the value."""

from __future__ import annotations

import pytest

from tests.workflows.blockctx import block_run
from workflows.blocks import block_get
from workflows.blocks.base import BlockConfigError


def _set(value, kind=None, name="x"):
    """Convert ``value`` at run time: it arrives through a template, as from a step."""
    variable = {"name": name, "value": "{{ input.v }}"}
    if kind:
        variable["type"] = kind
    result = block_run("set-variables", {"variables": [variable]}, scope={"input": {"v": value}})
    return result.output[name]


@pytest.mark.parametrize(
    ("value", "expected"),
    [("12", 12), ("1e3", 1000), (" 2.5 ", 2.5), ("-7", -7), (".5", 0.5), (4, 4), (1.25, 1.25)],
)
def test_it_converts_numbers_strictly(value, expected):
    result = _set(value, "number")
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("value", ["abc", "", "12abc", "1,000", "inf", "nan", "1e999", True, None])
def test_a_value_that_is_not_a_number_names_the_variable_and_the_value(value):
    with pytest.raises(BlockConfigError) as caught:
        _set(value, "number", name="count")
    message = str(caught.value)
    assert "variable 'count'" in message
    assert "type number" in message
    if isinstance(value, str):
        assert f'"{value}"' in message


def test_the_message_for_abc_reads_plainly():
    says = r'variable \'count\': the value "abc" is not a number'
    with pytest.raises(BlockConfigError, match=says):
        _set("abc", "number", name="count")


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), (False, False), ("true", True), ("false", False)]
)
def test_it_converts_booleans(value, expected):
    assert _set(value, "boolean") is expected


@pytest.mark.parametrize("value", ["yes", "True", 1, 0, "", None])
def test_only_true_and_false_are_booleans(value):
    with pytest.raises(BlockConfigError, match=r"variable 'flag'.*is not a boolean"):
        _set(value, "boolean", name="flag")


def test_json_text_is_parsed_and_an_object_is_kept():
    assert _set('{"a": [1, 2]}', "json") == {"a": [1, 2]}
    assert _set({"b": None}, "json") == {"b": None}
    assert _set([1, "x"], "json") == [1, "x"]


def test_invalid_json_text_is_an_error_saying_where():
    with pytest.raises(BlockConfigError, match=r"variable 'doc'.*is not valid JSON \(Expecting"):
        _set('{"a": ', "json", name="doc")


def test_strings_are_the_default_and_scalars_become_their_text():
    assert _set("hello") == "hello"
    assert _set(12, "string") == "12"
    assert _set(False, "string") == "false"


def test_an_object_is_not_text():
    with pytest.raises(BlockConfigError, match=r"variable 'x'.*needs type json"):
        _set({"a": 1}, "string")


def test_a_literal_value_that_cannot_convert_is_a_problem_at_save_time():
    block = block_get("set-variables")
    problems = block.config_problems(
        {
            "variables": [
                {"name": "ok", "value": "12", "type": "number"},
                {"name": "count", "value": "1O", "type": "number"},
                {"name": "later", "value": "{{ input.n }}", "type": "number"},
                {"name": "flag", "value": "yes", "type": "boolean"},
            ]
        }
    )
    assert problems == [
        ("variables.1.value", "variable 'count': the value \"1O\" is not a number (type number)"),
        (
            "variables.3.value",
            'variable \'flag\': the value "yes" is not a boolean (true, false, "true" or '
            '"false") (type boolean)',
        ),
    ]


def test_templates_are_resolved_before_conversion():
    output = block_run(
        "set-variables",
        {
            "variables": [
                {"name": "limit", "value": "{{ input.limit }}", "type": "number"},
                {"name": "who", "value": "user {{ input.user.name }}"},
                {"name": "raw", "value": "{{ input.user }}", "type": "json"},
            ]
        },
        scope={"input": {"limit": "30", "user": {"name": "Ann"}}},
    ).output
    assert output == {"limit": 30, "who": "user Ann", "raw": {"name": "Ann"}}


def test_every_variable_is_in_the_output_and_it_leaves_by_out():
    result = block_run(
        "set-variables",
        {"variables": [{"name": "a", "value": "1", "type": "number"}, {"name": "b", "value": "x"}]},
    )
    assert result.output == {"a": 1, "b": "x"}
    assert result.port == "out"


def test_a_variable_set_twice_is_a_config_problem():
    block = block_get("set-variables")
    problems = block.config_problems(
        {"variables": [{"name": "a", "value": 1}, {"name": "a", "value": 2}]}
    )
    assert problems == [("variables.1.name", "variable 'a' is set twice")]


@pytest.mark.parametrize(
    "variable",
    [{"name": "1bad", "value": 1}, {"name": "a", "value": 1, "type": "date"}, {"name": "a"}],
)
def test_the_config_schema_refuses_bad_variables(variable):
    with pytest.raises(BlockConfigError):
        block_run("set-variables", {"variables": [variable]})


def test_it_is_a_data_block_that_cannot_be_a_tool():
    block = block_get("set-variables")
    assert (block.category, block.side_effects, block.can_be_tool) == ("data", False, False)
