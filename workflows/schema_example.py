"""An example value built from a JSON Schema: what the admin's test-run form starts with.

Pure. It prefers what the schema's author wrote (``examples``, ``default``, ``const``,
the first of an ``enum``) and otherwise makes the plainest value of the declared type
that honours the simple bounds (``minLength``, ``minimum``, ``minItems``), so the form
usually starts valid and shows every field a run takes.
"""

from __future__ import annotations

from typing import Any

#: Nesting past this depth (a recursive schema) stops at null.
MAX_DEPTH = 8


def schema_example(schema: Any, *, depth: int = 0) -> Any:
    """A value for ``schema``; an object schema gives every declared property."""
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            return schema_example(options[0], depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None and "properties" in schema:
        kind = "object"
    if kind == "object":
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        return {
            name: schema_example(sub, depth=depth + 1)
            for name, sub in properties.items()
            if isinstance(sub, dict)
        }
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        return [schema_example(schema.get("items"), depth=depth + 1) for _ in range(count)]
    if kind == "string":
        return "x" * int(schema.get("minLength") or 0)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        value = low if isinstance(low, int | float) else 0
        if "exclusiveMinimum" in schema and "minimum" not in schema:
            value += 1
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    return None
