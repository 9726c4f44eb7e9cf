"""Structured output: find the JSON gpt-oss meant, and check it against its schema.

gpt-oss does not always answer with bare JSON: it may put a sentence of commentary first,
wrap the object in a Markdown code fence, or add a closing remark. We accept those, and
nothing looser: the first complete JSON object or array in the text is the answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)\n?```", re.DOTALL)


class StructuredOutputError(ValueError):
    """The text holds no JSON, or JSON that breaks the schema; the message says where."""


def json_extract(text: str) -> Any:
    """The JSON value in ``text``: bare, fenced, or after a short preamble."""
    stripped = text.strip()
    if not stripped:
        raise StructuredOutputError("the answer is empty; expected a JSON object")
    try:
        return json.loads(stripped)
    except json.JSONDecodeError:
        pass
    for block in _FENCE.findall(stripped):
        try:
            return json.loads(block.strip())
        except json.JSONDecodeError:
            continue
    decoder = json.JSONDecoder()
    for match in re.finditer(r"[\[{]", stripped):
        try:
            value, _ = decoder.raw_decode(stripped, match.start())
        except json.JSONDecodeError:
            continue
        return value
    raise StructuredOutputError(f"no JSON object found in the answer: {stripped[:200]!r}")


def schema_check(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema``; a broken schema is a programming error, named as such."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from exc
    return Draft202012Validator(schema)


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value``, each as ``path: message``."""
    validator = schema_check(schema)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors:
        path = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        messages.append(f"{path}: {error.message}")
    return messages


def structured_parse(text: str, schema: dict[str, Any]) -> Any:
    """Extract and validate; raises ``StructuredOutputError`` naming every violation."""
    value = json_extract(text)
    errors = schema_errors(value, schema)
    if errors:
        raise StructuredOutputError("; ".join(errors[:10]))
    return value
