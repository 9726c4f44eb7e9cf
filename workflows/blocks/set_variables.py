"""``set-variables``: set run variables from (already resolved) values, converted strictly.

The engine merges the output ``{name: value}`` into ``run.vars``, where later steps read
it as ``{{ vars.<name> }}``. A value that does not convert to its declared type is a step
error naming the variable and the value, never a silent default.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from workflows.blocks.base import Block, BlockConfigError, BlockContext, BlockResult, block_register

VARIABLE_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"
TYPES = ("string", "number", "boolean", "json")

_INTEGER = re.compile(r"^[+-]?\d+$")
# JSON's number grammar, plus a leading "+" and a bare ".5" people type.
_DECIMAL = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise ValueError("is not text (an object, a list or null needs type json)")


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("is a boolean, not a number")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("is not a finite number")
        return value
    if not isinstance(value, str):
        raise ValueError("is not a number")
    text = value.strip()
    if _INTEGER.match(text):
        return int(text)
    if not _DECIMAL.match(text):
        raise ValueError("is not a number")
    number = float(text)
    if not math.isfinite(number):
        raise ValueError("is too large a number")
    # "1e3" is the integer 1000, as a person means it; "2.5" stays a float.
    return int(number) if number.is_integer() else number


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return bool(value == "true")
    raise ValueError('is not a boolean (true, false, "true" or "false")')


def _to_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at character {exc.pos})") from exc
    return value


def _message(name: Any, value: Any, variable: dict[str, Any], exc: ValueError) -> str:
    kind = variable.get("type", "string")
    return f"variable {name!r}: the value {_show(value)} {exc} (type {kind})"


_CONVERT = {
    "string": _to_string,
    "number": _to_number,
    "boolean": _to_boolean,
    "json": _to_json,
}


@block_register
class SetVariables(Block):
    slug = "set-variables"
    name = "Set variables"
    category = "data"
    description = (
        "Sets run variables (read later as {{ vars.name }}) from values or templates, "
        "converting each strictly to text, a number, a boolean or JSON."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["variables"],
        "properties": {
            "variables": {
                "type": "array",
                "description": "The variables to set, in order; a later one wins over an earlier.",
                "minItems": 1,
                "maxItems": 100,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "value"],
                    "properties": {
                        "name": {
                            "type": "string",
                            "pattern": VARIABLE_NAME,
                            "description": "The variable's name (letters, digits, _).",
                        },
                        "value": {
                            "description": (
                                "The value, or a template such as {{ steps.fetch.output.total }}."
                            ),
                        },
                        "type": {
                            "type": "string",
                            "enum": list(TYPES),
                            "default": "string",
                            "description": (
                                "What to convert the value to: string, number ('12' → 12, "
                                "'1e3' → 1000), boolean (true/false or 'true'/'false') or "
                                "json (text is parsed, an object is kept)."
                            ),
                        },
                    },
                },
            }
        },
    }
    input_schema = {
        "type": "object",
        "description": ("Not used: set-variables is not a tool; its values come from its config."),
    }
    output_schema = {
        "type": "object",
        "description": "Each variable's name and converted value; merged into the run's vars.",
        "additionalProperties": True,
    }
    side_effects = False
    # Its effect is on the run's vars, which a tool call made by an agent should not change.
    can_be_tool = False

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        seen: set[str] = set()
        for index, variable in enumerate(config.get("variables") or []):
            if not isinstance(variable, dict):
                continue
            name = variable.get("name")
            if isinstance(name, str):
                if name in seen:
                    problems.append((f"variables.{index}.name", f"variable {name!r} is set twice"))
                seen.add(name)
            # A literal value is known now: a typo such as "1O" is caught at save time. A
            # value holding a template is only known when the step runs.
            value = variable.get("value")
            convert = _CONVERT.get(variable.get("type", "string"))
            if convert is None or "value" not in variable:
                continue
            if isinstance(value, str) and "{{" in value:
                continue
            try:
                convert(value)
            except ValueError as exc:
                problems.append((f"variables.{index}.value", _message(name, value, variable, exc)))
        return problems

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        output: dict[str, Any] = {}
        for variable in config.get("variables") or []:
            name = variable["name"]
            kind = variable.get("type", "string")
            value = variable.get("value")
            convert = _CONVERT.get(kind)
            if convert is None:
                raise BlockConfigError(
                    f"variable {name!r}: type {kind!r} is not one of {', '.join(TYPES)}"
                )
            try:
                output[name] = convert(value)
            except ValueError as exc:
                raise BlockConfigError(_message(name, value, variable, exc)) from exc
        return BlockResult(output=output)
