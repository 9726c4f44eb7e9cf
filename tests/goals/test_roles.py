"""The roles' instructions and schemas: stable, valid, and strict."""

from __future__ import annotations

import datetime as dt

import pytest
from jsonschema import Draft202012Validator

from bizagent.llm.structured import schema_errors
from goals.roles import (
    CRITIC,
    EDITOR,
    IDEATOR,
    MODEL_ROLES,
    PLANNER,
    ROLE_FOR_KIND,
    ROLE_SPECS,
    repair_message,
    request_build,
    role_instructions,
)


@pytest.mark.parametrize("role", MODEL_ROLES)
def test_each_schema_is_valid_json_schema(role):
    Draft202012Validator.check_schema(ROLE_SPECS[role].response_format.schema)


@pytest.mark.parametrize("role", MODEL_ROLES)
def test_instructions_forbid_taboos_and_demand_bare_json(role):
    text = role_instructions(role, brand_text="The brand is a rabbit.")
    assert "taboos" in text
    assert "exactly one JSON" in text
    assert "no code fence" in text


def test_every_model_task_kind_has_a_role():
    # ``plan`` is the planner's own turn on an empty queue (no task).
    assert set(ROLE_FOR_KIND) - {"plan"} == {
        "generate",
        "shake_up",
        "critique",
        "compare",
        "refine",
        "edit",
        "meta_review",
    }


def test_it_keeps_the_developer_prefix_byte_identical_across_calls():
    day = dt.date(2025, 5, 1)
    first = request_build(role=IDEATOR, brand_text="Brand", user="task 1", max_tokens=100, day=day)
    second = request_build(role=IDEATOR, brand_text="Brand", user="task 2", max_tokens=100, day=day)
    assert first.instructions == second.instructions
    assert first.response_format == second.response_format
    assert first.conversation_date == second.conversation_date == day


def test_it_puts_the_brand_first_and_the_role_last():
    # Most shared first (issue 8): the brand is the same for every role, so calls of
    # different roles share it as a prefix; the role's constant part follows.
    text = role_instructions(CRITIC, brand_text="The brand is a rabbit.")
    assert text.startswith("# Brand and project\n\nThe brand is a rabbit.\n\n# Ground rules")
    assert text.endswith(ROLE_SPECS[CRITIC].instructions)
    other = role_instructions(EDITOR, brand_text="The brand is a rabbit.")
    shared = text.split("You are the critic")[0]
    assert other.startswith(shared) and "# Ground rules" in shared


def test_ideator_schema_accepts_a_good_batch_and_rejects_extras():
    schema = ROLE_SPECS[IDEATOR].response_format.schema
    idea = {
        "title": "Moon-viewing tea set",
        "summary": "A limited autumn tea set for tired office workers.",
        "target_audience": "Working women in their 20s",
        "value_proposition": "A calm ritual at the end of the day with the brand's rabbit.",
        "revenue_model": "¥4,800 per set, 300-unit lot",
        "tags": ["seasonal"],
        "builds_on": [],
    }
    assert schema_errors({"direction": "seasonal rituals", "ideas": [idea]}, schema) == []
    bad = {"direction": "x" * 3, "ideas": [{**idea, "price": 3}]}
    assert any("price" in e for e in schema_errors(bad, schema))


def test_planner_strategy_is_null_or_a_full_proposal():
    schema = ROLE_SPECS[PLANNER].response_format.schema
    plan = {"assessment": "thin portfolio", "tasks": [], "strategy": None}
    assert schema_errors(plan, schema) == []
    plan["strategy"] = {"explore_ratio": 0.3}
    assert schema_errors(plan, schema)


def test_editor_needs_at_least_one_change():
    schema = ROLE_SPECS[EDITOR].response_format.schema
    answer = {"edits": [{"idea_id": 1, "changes": {}, "reason": "tighter"}]}
    assert schema_errors(answer, schema)


def test_repair_message_quotes_the_error_and_the_schema():
    fmt = ROLE_SPECS[CRITIC].response_format
    text = repair_message(detail="$.reviews: [] is too short", response_format=fmt)
    assert "$.reviews: [] is too short" in text
    assert '"reviews"' in text


@pytest.mark.parametrize(
    ("role", "path"),
    [
        (IDEATOR, ("ideas", "items", "tags")),
        (IDEATOR, ("ideas", "items", "builds_on")),
        (EDITOR, ("edits", "items", "changes", "tags")),
        (PLANNER, ("tasks", "items", "idea_ids")),
    ],
)
def test_arrays_meant_as_sets_say_unique_items_so_duplicates_are_normalised(role, path):
    schema = ROLE_SPECS[role].response_format.schema
    for part in path:
        schema = schema["items"] if part == "items" else schema["properties"][part]
    assert schema["uniqueItems"] is True
