"""``switch``: leave by the port of the first case that matches (``case:<key>``)."""

from __future__ import annotations

import json
from typing import Any

from workflows.blocks.base import Block, BlockConfigError, BlockContext, BlockResult, block_register
from workflows.blocks.operators import OPERATOR_SCHEMA, compare, comparison_problems

CASE_KEY = r"^[A-Za-z0-9_-]{1,64}$"


@block_register
class Switch(Block):
    slug = "switch"
    name = "Switch"
    category = "logic"
    description = (
        "Tests a value against cases in order and continues by the port of the first that "
        "matches (case:<key>), or by default when none does."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["value", "cases"],
        "properties": {
            "value": {
                "description": (
                    "What to test, usually a template such as {{ steps.classify.output.label }}."
                ),
            },
            "cases": {
                "type": "array",
                "minItems": 1,
                "maxItems": 50,
                "description": "Tried in order; the first that matches wins.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["key"],
                    "properties": {
                        "key": {
                            "type": "string",
                            "pattern": CASE_KEY,
                            "description": "Names the case's port: case:<key>.",
                        },
                        "operator": {**OPERATOR_SCHEMA, "default": "equals"},
                        "operand": {"description": "What to compare the value with."},
                    },
                },
            },
            "default": {
                "type": "boolean",
                "default": True,
                "description": (
                    "Whether a default port exists for a value no case matches; without "
                    "it, such a value fails the step."
                ),
            },
        },
    }
    input_schema = {
        "type": "object",
        "description": ("Not used: a switch is not a tool; it tests the value in its config."),
    }
    output_schema = {
        "type": "object",
        "required": ["case", "value"],
        "properties": {
            "case": {
                "type": ["string", "null"],
                "description": "The key of the case that matched, or null for default.",
            },
            "value": {"description": "The value that was tested."},
        },
    }
    side_effects = False
    # Its effect is the port it leaves by, which means nothing to an agent's tool call.
    can_be_tool = False

    def ports(self, config: dict[str, Any]) -> tuple[str, ...]:
        keys = [
            f"case:{case['key']}"
            for case in config.get("cases") or []
            if isinstance(case, dict) and isinstance(case.get("key"), str)
        ]
        if config.get("default", True):
            keys.append("default")
        return tuple(dict.fromkeys(keys))

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for index, case in enumerate(config.get("cases") or []):
            if not isinstance(case, dict):
                continue
            key = case.get("key")
            if isinstance(key, str):
                if key in seen:
                    problems.append((f"cases.{index}.key", f"case {key!r} appears twice"))
                seen.add(key)
            problems.extend(
                comparison_problems(
                    case.get("operator", "equals"),
                    case.get("operand"),
                    has_operand="operand" in case,
                    path=f"cases.{index}.",
                )
            )
        return problems

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        value = config.get("value")
        for case in config["cases"]:
            if compare(case.get("operator", "equals"), value, case.get("operand")):
                return BlockResult(
                    output={"case": case["key"], "value": value}, port=f"case:{case['key']}"
                )
        if not config.get("default", True):
            shown = json.dumps(value, ensure_ascii=False, default=str)[:80]
            raise BlockConfigError(
                f"no case matched the value {shown} and the switch has no default port"
            )
        return BlockResult(output={"case": None, "value": value}, port="default")
