"""Structured output as gpt-oss really sends it: bare, fenced, after a preamble."""

from __future__ import annotations

import pytest

from bizagent.llm.structured import (
    StructuredOutputError,
    json_extract,
    schema_errors,
    structured_parse,
)

IDEA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1},
        "score": {"type": "number", "minimum": 0, "maximum": 10},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["title", "score"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "text",
    [
        '{"title": "Mochi box", "score": 7}',
        '  \n{"title": "Mochi box", "score": 7}\n',
        '```json\n{"title": "Mochi box", "score": 7}\n```',
        '```\n{"title": "Mochi box", "score": 7}\n```',
        'Here is the idea you asked for:\n```json\n{"title": "Mochi box", "score": 7}\n```\nDone.',
        'Sure. {"title": "Mochi box", "score": 7} Hope it helps.',
    ],
)
def test_it_finds_the_json_gpt_oss_meant(text):
    assert structured_parse(text, IDEA) == {"title": "Mochi box", "score": 7}


def test_a_brace_in_the_preamble_does_not_fool_it():
    text = 'Options {a, b} considered. {"title": "T", "score": 1}'
    assert json_extract(text) == {"title": "T", "score": 1}


def test_every_violation_is_named_with_its_path():
    errors = schema_errors({"title": "", "score": 11, "tags": [3], "extra": 1}, IDEA)
    joined = "\n".join(errors)
    assert "$.title: '' should be non-empty" in joined
    assert "$.score: 11 is greater than the maximum of 10" in joined
    assert "$.tags[0]: 3 is not of type 'string'" in joined
    assert "Additional properties are not allowed ('extra' was unexpected)" in joined


def test_missing_required_fields_fail():
    with pytest.raises(StructuredOutputError, match="'score' is a required property"):
        structured_parse('{"title": "x"}', IDEA)


@pytest.mark.parametrize("text", ["", "   ", "no json here at all", '{"title": "unterminated'])
def test_no_json_is_a_clear_error(text):
    with pytest.raises(StructuredOutputError, match=r"empty|no JSON"):
        json_extract(text)


def test_a_broken_schema_is_a_programming_error():
    with pytest.raises(ValueError, match="invalid JSON Schema"):
        schema_errors({}, {"type": "no-such-type"})
