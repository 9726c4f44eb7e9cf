"""``condition``: leave by ``true`` or ``false`` after comparing a value with an operand."""

from __future__ import annotations

from typing import Any

from workflows.blocks.base import Block, BlockContext, BlockResult, block_register
from workflows.blocks.operators import OPERATOR_SCHEMA, compare, comparison_problems


@block_register
class Condition(Block):
    slug = "condition"
    name = "Condition"
    category = "logic"
    description = (
        "Compares a value with an operand (equals, contains, greater, exists, matches a "
        "pattern…) and continues by the true or the false port."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["value", "operator"],
        "properties": {
            "value": {
                "description": "What to test, usually a template such as {{ input.amount }}.",
            },
            "operator": OPERATOR_SCHEMA,
            "operand": {
                "description": (
                    "What to compare the value with (not used by exists, not_exists, "
                    "is_empty and is_true)."
                ),
            },
        },
    }
    input_schema = {
        "type": "object",
        "description": ("Not used: a condition is not a tool; it tests the value in its config."),
    }
    output_schema = {
        "type": "object",
        "required": ["result", "value"],
        "properties": {
            "result": {"type": "boolean", "description": "The comparison's outcome."},
            "value": {"description": "The value that was tested."},
        },
    }
    side_effects = False
    # Its effect is the port it leaves by, which means nothing to an agent's tool call.
    can_be_tool = False

    def ports(self, config: dict[str, Any]) -> tuple[str, ...]:
        return ("true", "false")

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        return comparison_problems(
            config.get("operator"),
            config.get("operand"),
            has_operand="operand" in config,
            path="",
        )

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        value = config.get("value")
        result = compare(config["operator"], value, config.get("operand"))
        return BlockResult(
            output={"result": result, "value": value}, port="true" if result else "false"
        )
