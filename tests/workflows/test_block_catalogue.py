"""The generic blocks as the API and the validator see them: complete schemas, one graph."""

from __future__ import annotations

import json

import pytest

from bizagent.llm.structured import schema_check
from workflows.blocks import Block, block_get, blocks_all
from workflows.graph import SubflowTarget, graph_validate

SLUGS = {
    "set-variables": "data",
    "condition": "logic",
    "switch": "logic",
    "llm": "ai",
    "llm-structured": "ai",
    "memory-buffer": "memory",
    "subflow": "flow",
}


def test_importing_the_package_registers_every_generic_block():
    assert set(SLUGS) <= set(blocks_all())


@pytest.mark.parametrize(("slug", "category"), SLUGS.items())
def test_each_block_describes_itself_completely(slug, category):
    block = block_get(slug)
    entry = block.describe()
    assert json.loads(json.dumps(entry)) == entry
    assert entry["category"] == category
    assert entry["name"] and entry["description"].endswith(".")
    for schema in (block.config_schema, block.input_schema, block.output_schema):
        schema_check(schema)
    properties = block.config_schema["properties"]
    assert properties, f"{slug} declares no config"
    for key, prop in properties.items():
        assert prop.get("description"), f"{slug}.config.{key} has no description"
    assert block.config_schema.get("additionalProperties") is False
    assert set(block.config_schema["required"]) <= set(properties)
    assert set(block.prompt_keys) <= set(properties)
    assert block.output_schema.get("description") or block.output_schema.get("properties")
    assert block.input_schema.get("description"), f"{slug} does not say what its input is"


def test_a_workflow_of_every_generic_block_validates():
    document = {
        "name": "Support triage",
        "input_schema": {
            "type": "object",
            "properties": {"user": {"type": "string"}, "text": {"type": "string"}},
            "required": ["user", "text"],
        },
        "output": {"answer": "{{ steps.reply.output.text }}"},
        "steps": [
            {
                "name": "remember",
                "block": "memory-buffer",
                "config": {
                    "operation": "add",
                    "key": "user-{{ input.user }}",
                    "messages": [{"role": "user", "content": "{{ input.text }}"}],
                },
            },
            {
                "name": "setup",
                "block": "set-variables",
                "config": {"variables": [{"name": "limit", "value": "3", "type": "number"}]},
            },
            {
                "name": "classify",
                "block": "llm-structured",
                "config": {
                    "prompt": "{{ input.text }}",
                    "schema": {
                        "type": "object",
                        "properties": {"label": {"enum": ["bug", "refund"]}},
                        "required": ["label"],
                    },
                },
            },
            {
                "name": "route",
                "block": "switch",
                "config": {
                    "value": "{{ steps.classify.output.label }}",
                    "cases": [{"key": "bug", "operand": "bug"}],
                },
            },
            {
                "name": "urgent",
                "block": "condition",
                "config": {"value": "{{ input.text }}", "operator": "contains", "operand": "!"},
            },
            {
                "name": "reply",
                "block": "llm",
                "config": {"prompt": "Answer: {{ input.text }}", "instructions": "Be brief."},
            },
            {
                "name": "notify",
                "block": "subflow",
                "config": {"workflow": "notify", "input": {"to": "{{ input.user }}"}},
            },
        ],
        "edges": [
            {"from": "remember", "port": "out", "to": "setup"},
            {"from": "setup", "port": "out", "to": "classify"},
            {"from": "classify", "port": "out", "to": "route"},
            {"from": "route", "port": "case:bug", "to": "urgent"},
            {"from": "route", "port": "default", "to": "reply"},
            {"from": "urgent", "port": "true", "to": "notify"},
            {"from": "urgent", "port": "false", "to": "reply"},
        ],
    }
    targets = {
        "notify": SubflowTarget(
            ref="notify",
            workflow_id=3,
            input_schema={"type": "object", "properties": {"to": {"type": "string"}}},
            output={},
            published=True,
        )
    }
    assert graph_validate(document, subflow_lookup=targets.get) == []


def test_the_validator_reports_the_blocks_own_config_problems():
    document = {
        "name": "Broken",
        "steps": [
            {
                "name": "check",
                "block": "condition",
                "config": {"value": "x", "operator": "matches_regex", "operand": "(a+)+"},
            }
        ],
        "edges": [],
    }
    problems = graph_validate(document)
    assert [(p["step"], p["path"]) for p in problems] == [("check", "steps.0.config.operand")]
    assert "inside another repeat" in problems[0]["message"]


def test_every_registered_block_implements_run():
    """``Block.run`` in the base only raises NotImplementedError (the contract): no
    registered block may fall back on it."""
    missing = [slug for slug, block in blocks_all().items() if type(block).run is Block.run]
    assert missing == []
