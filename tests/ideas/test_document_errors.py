"""``ideas.theme_files.document_errors`` with its compiled check: on the published schemas,
for valid documents and for thousands of broken ones, the check accepts exactly what the
draft 2020-12 validator accepts, and the messages are those the validator alone writes."""

from __future__ import annotations

import itertools

import pytest
from jsonschema import Draft202012Validator

from ideas import theme_files
from ideas.theme_files import (
    IDEA_SCHEMA,
    IP_PROFILE_SCHEMA,
    THEME_CONFIG_SCHEMA,
    document_errors,
    schema_load,
)
from tests.goals.test_structured_fast_check import _broken, _valid

#: The schemas the check reads alike (the theme config uses keywords it does not).
COMPILED = [IDEA_SCHEMA, IP_PROFILE_SCHEMA]


def _idea() -> dict:
    return {
        "title": "Moon plush",
        "summary": "A plush for the moon festival",
        "tags": ["plush", "autumn"],
        "related": [3, 7],
        "scores": {"brand_fit": 7.5, "novelty": 6, "feasibility": 8},
    }


def test_the_schemas_are_compiled_where_the_check_reads_them_alike():
    assert [name for name in COMPILED if theme_files._fast_check(name) is None] == []
    assert theme_files._fast_check(THEME_CONFIG_SCHEMA) is None


@pytest.mark.parametrize("name", COMPILED)
def test_the_check_accepts_exactly_what_the_validator_accepts(name):
    check = theme_files._fast_check(name)
    assert check is not None
    validator = Draft202012Validator(schema_load(name))
    valids = [_valid(schema_load(name))] + ([_idea()] if name == IDEA_SCHEMA else [])
    for valid in valids:
        assert validator.is_valid(valid) and check(valid)
        verdicts = [(check(value), validator.is_valid(value)) for value in _broken(valid)]
        assert [fast for fast, _ in verdicts] == [full for _, full in verdicts]
        assert sum(not full for _, full in verdicts) > 50  # the probes did break documents


def test_document_errors_names_what_the_validator_alone_names(monkeypatch):
    idea = _idea()
    values = [idea, *itertools.islice(_broken(idea), 0, None, 5)]
    with_check = [
        document_errors(document=v, schema_name=IDEA_SCHEMA, label="idea") for v in values
    ]

    monkeypatch.setattr(theme_files, "_fast_check", lambda name: None)
    without = [document_errors(document=v, schema_name=IDEA_SCHEMA, label="idea") for v in values]

    assert with_check == without
    assert not with_check[0] and sum(bool(errors) for errors in with_check) > 20
