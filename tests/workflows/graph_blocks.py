"""Small blocks for the validator's tests, kept in a local catalogue (never registered).

They declare what the real blocks declare (schemas, ports, tools, subflow target, side
effects) so ``graph_validate(document, blocks=GRAPH_BLOCKS)`` can be tested without
waiting for the real catalogue; none of them is ever run.
"""

from __future__ import annotations

from typing import Any

from workflows.blocks.base import Block

TEXT_OUTPUT = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
}


class EchoBlock(Block):
    slug = "echo"
    name = "Echo"
    category = "test"
    description = "Returns its text."
    config_schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}, "count": {"type": "integer", "minimum": 1}},
        "additionalProperties": False,
    }
    input_schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    output_schema = TEXT_OUTPUT
    prompt_keys = ("text",)


class ConditionBlock(Block):
    slug = "cond"
    name = "Condition"
    category = "test"
    description = "Leaves by true or false."
    config_schema = {
        "type": "object",
        "properties": {"value": {}, "equals": {}},
        "required": ["value"],
    }
    can_be_tool = False

    def ports(self, config: dict[str, Any]) -> tuple[str, ...]:
        return ("true", "false")


class SwitchBlock(Block):
    slug = "switch"
    name = "Switch"
    category = "test"
    description = "Leaves by case:<key> or default."
    config_schema = {
        "type": "object",
        "properties": {"value": {}, "cases": {"type": "array", "items": {"type": "string"}}},
        "required": ["value", "cases"],
    }
    can_be_tool = False

    def ports(self, config: dict[str, Any]) -> tuple[str, ...]:
        return (*(f"case:{case}" for case in config["cases"]), "default")

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        seen: set[str] = set()
        problems = []
        for index, case in enumerate(config["cases"]):
            if case in seen:
                problems.append((f"cases.{index}", f"case {case!r} is listed twice"))
            seen.add(case)
        return problems


class AgentBlock(Block):
    slug = "agent"
    name = "Agent"
    category = "test"
    description = "Calls the steps named in tools."
    config_schema = {
        "type": "object",
        "properties": {
            "prompt": {"type": "string"},
            "tools": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["tools"],
    }
    output_schema = TEXT_OUTPUT
    prompt_keys = ("prompt",)

    def tool_names(self, config: dict[str, Any]) -> list[str]:
        return list(config["tools"])


class SendBlock(Block):
    slug = "send"
    name = "Send"
    category = "test"
    description = "Sends something somewhere (a side effect)."
    config_schema = {"type": "object", "properties": {"to": {"type": "string"}}}
    side_effects = True


class HiddenBlock(Block):
    slug = "hidden"
    name = "Hidden"
    category = "test"
    description = "A block that can never be a tool."
    can_be_tool = False


class SubflowBlock(Block):
    slug = "sub"
    name = "Subflow"
    category = "test"
    description = "Runs another workflow."
    config_schema = {
        "type": "object",
        "properties": {"workflow": {"type": ["string", "integer"]}, "input": {"type": "object"}},
        "required": ["workflow"],
    }

    def subflow_ref(self, config: dict[str, Any]) -> str | int | None:
        return config["workflow"]  # type: ignore[no-any-return]


GRAPH_BLOCKS: dict[str, Block] = {
    cls.slug: cls()
    for cls in (
        EchoBlock,
        ConditionBlock,
        SwitchBlock,
        AgentBlock,
        SendBlock,
        HiddenBlock,
        SubflowBlock,
    )
}
