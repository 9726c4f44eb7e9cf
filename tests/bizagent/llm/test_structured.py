"""Structured output as gpt-oss really sends it: bare, fenced, after a preamble."""

from __future__ import annotations

import pytest

from bizagent.llm.structured import (
    StructuredOutputError,
    json_extract,
    schema_errors,
    schema_normalise,
    structured_parse,
    structured_parse_with_notes,
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


# --- harmless normalisation: duplicates in sets -----------------------------------------

SET_OF_TAGS = {"type": "array", "items": {"type": "string"}, "uniqueItems": True}
IDEA_BATCH = {
    "type": "object",
    "properties": {
        "ideas": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "tags": SET_OF_TAGS,
                    "builds_on": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "uniqueItems": True,
                    },
                    "steps": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "extra": {"type": "object", "additionalProperties": SET_OF_TAGS},
        "pair": {"type": "array", "prefixItems": [SET_OF_TAGS, {"type": "string"}]},
        "both": {"allOf": [{"type": "array"}, {"uniqueItems": True}]},
        "either": {"anyOf": [SET_OF_TAGS, {"type": "string"}]},
    },
}


@pytest.mark.parametrize(
    ("value", "expected", "notes"),
    [
        # Exact duplicates in a set go, first occurrence and order kept.
        (["tea", "mochi", "tea", "cafe", "mochi"], ["tea", "mochi", "cafe"], 1),
        (["tea", "mochi"], ["tea", "mochi"], 0),
        ([], [], 0),
        # Not exact: a different case or type is another item; the validator decides.
        (["Tea", "tea"], ["Tea", "tea"], 0),
        ([1, True, 1.0], [1, True, 1.0], 0),
        # Objects equal up to key order are the same JSON value.
        ([{"a": 1, "b": 2}, {"b": 2, "a": 1}], [{"a": 1, "b": 2}], 1),
        # A value of the wrong type is left for the validator to name.
        ("tea, tea", "tea, tea", 0),
    ],
)
def test_duplicates_in_a_set_are_removed_in_order(value, expected, notes):
    normalised, found = schema_normalise(value, SET_OF_TAGS)
    assert normalised == expected
    assert len(found) == notes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Nested under objects and arrays.
        (
            {"ideas": [{"tags": ["a", "a"], "builds_on": [3, 3, 4], "steps": ["x", "x"]}]},
            {"ideas": [{"tags": ["a"], "builds_on": [3, 4], "steps": ["x", "x"]}]},
        ),
        # Through additionalProperties, prefixItems and allOf.
        ({"extra": {"k": ["b", "b"]}}, {"extra": {"k": ["b"]}}),
        ({"pair": [["c", "c"], "c"]}, {"pair": [["c"], "c"]}),
        ({"both": [5, 5]}, {"both": [5]}),
        # Under anyOf the branch that applies is undecided: left alone.
        ({"either": ["d", "d"]}, {"either": ["d", "d"]}),
    ],
)
def test_it_follows_the_schema_into_nested_values(value, expected):
    assert schema_normalise(value, IDEA_BATCH)[0] == expected


def test_arrays_that_are_not_sets_keep_their_duplicates():
    value = {"ideas": [{"steps": ["call", "call"]}]}
    assert schema_normalise(value, IDEA_BATCH) == (value, [])


def test_it_is_pure_and_says_where_and_what_it_removed():
    value = {"ideas": [{"tags": ["x"]}, {"tags": ["tea", "tea", "cafe", "cafe"]}]}
    before = repr(value)
    normalised, notes = schema_normalise(value, IDEA_BATCH)
    assert repr(value) == before  # the input is not touched
    assert normalised["ideas"][1]["tags"] == ["tea", "cafe"]
    assert notes == ['$.ideas[1].tags: removed 2 duplicate items ("tea", "cafe")']


def test_items_equal_after_their_own_normalisation_are_duplicates():
    schema = {"type": "array", "uniqueItems": True, "items": SET_OF_TAGS}
    normalised, notes = schema_normalise([["a", "a"], ["a"]], schema)
    assert normalised == [["a"]]
    assert len(notes) == 2


def test_structured_parse_accepts_duplicates_in_a_set_and_reports_them():
    value, notes = structured_parse_with_notes('{"ideas": [{"tags": ["a", "b", "a"]}]}', IDEA_BATCH)
    assert value == {"ideas": [{"tags": ["a", "b"]}]}
    assert notes == ['$.ideas[0].tags: removed 1 duplicate item ("a")']
    assert structured_parse('{"ideas": [{"tags": ["a", "a"]}]}', IDEA_BATCH) == {
        "ideas": [{"tags": ["a"]}]
    }


def test_what_changes_meaning_is_still_a_violation():
    with pytest.raises(StructuredOutputError, match=r"\$\.ideas\[0\]\.tags\[1\]: 3 is not of type"):
        structured_parse('{"ideas": [{"tags": ["a", 3, "a"]}]}', IDEA_BATCH)
    # Too many distinct items is not a duplicate problem: it stays an error.
    capped = {**SET_OF_TAGS, "maxItems": 2}
    with pytest.raises(StructuredOutputError, match="is too long"):
        structured_parse('["a", "b", "c", "a"]', capped)
    assert structured_parse('["a", "b", "a", "b"]', capped) == ["a", "b"]


# --- each schema is checked against the metaschema once --------------------------------


def _count_metaschema_checks(monkeypatch) -> list[object]:
    from jsonschema import Draft202012Validator

    checked: list[object] = []
    original = Draft202012Validator.check_schema.__func__

    def counting(cls, schema, *args, **kwargs):
        checked.append(schema)
        return original(cls, schema, *args, **kwargs)

    monkeypatch.setattr(Draft202012Validator, "check_schema", classmethod(counting))
    return checked


def test_a_schema_is_checked_once_however_many_answers_use_it(monkeypatch):
    checked = _count_metaschema_checks(monkeypatch)
    schema = {**IDEA, "title": "checked once"}  # a schema no other test has used yet
    for n in range(5):
        assert structured_parse(f'{{"title": "idea {n}", "score": {n}}}', schema)["score"] == n
    assert schema_errors({"title": "x"}, dict(schema)) == ["$: 'score' is a required property"]
    assert len(checked) == 1


def test_a_schema_changed_in_place_is_checked_again(monkeypatch):
    checked = _count_metaschema_checks(monkeypatch)
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    assert schema_errors({"n": 1}, schema) == []
    schema["properties"]["n"]["type"] = "string"
    assert schema_errors({"n": 1}, schema) == ["$.n: 1 is not of type 'string'"]
    assert len(checked) == 2


def test_a_broken_schema_is_refused_every_time():
    for _ in range(2):
        with pytest.raises(ValueError, match="invalid JSON Schema"):
            schema_errors({}, {"type": "also-no-such-type"})
