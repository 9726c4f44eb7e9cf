"""Structured output: find the JSON gpt-oss meant, and check it against its schema.

gpt-oss does not always answer with bare JSON: it may put a sentence of commentary first,
wrap the object in a Markdown code fence, or add a closing remark. We accept those, and
nothing looser: the first complete JSON object or array in the text is the answer.

Before validation, what is harmless is normalised, driven by the schema alone
(``schema_normalise``): an array whose schema says ``uniqueItems: true`` is a set in our
schemas, so exact duplicates in it are dropped (first occurrence and order kept) and
noted, instead of costing a repair call. Anything else that breaks the schema still
fails, since fixing it would change what the answer means.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

import fastjsonschema
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


# Our schemas are a handful of constants (one per role and tool); a few hundred is room
# for every one of them and keeps a caller that builds schemas on the fly bounded.
SCHEMA_CACHE_SIZE = 256


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _validator_for(canonical: str) -> Draft202012Validator:
    # Checking a schema against the metaschema costs ~20 times validating an answer, and
    # every answer of a role uses the same schema: check each distinct schema once. The
    # key is the schema's canonical JSON, so a schema mutated in place is a new entry and
    # never reuses a validator built for its old content. A broken schema raises and is
    # not cached, so it is refused every time.
    schema = json.loads(canonical)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"invalid JSON Schema: {exc.message}") from exc
    return Draft202012Validator(schema)


def schema_check(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for ``schema``; a broken schema is a programming error, named as such.

    Validators are cached by the schema's content: the metaschema check runs once per
    distinct schema, not once per answer.
    """
    return _validator_for(json.dumps(schema, sort_keys=True, ensure_ascii=False))


#: A compiled check: True only where the full validator finds no error.
Check = Callable[[Any], bool]

#: The keywords draft 7 (fastjsonschema's) and draft 2020-12 (the full validator's) read
#: alike, with an argument of the form both drafts share (``items`` a schema, not a
#: list). A schema using any other is judged by the full validator alone.
_SHARED_KEYWORDS = frozenset(
    {
        "type",
        "enum",
        "const",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        # Annotations: they never change whether a value is valid.
        "title",
        "description",
        "$comment",
        "default",
        "examples",
    }
)


def _shared_keywords_only(schema: Any) -> bool:
    """Does ``schema`` (and every schema inside it) use only ``_SHARED_KEYWORDS``?"""
    if schema is True:
        return True
    if not isinstance(schema, dict) or not set(schema) <= _SHARED_KEYWORDS:
        return False
    subschemas = list(schema.get("properties", {}).values())
    for keyword in ("items", "additionalProperties"):
        if keyword in schema and not isinstance(schema[keyword], bool):
            subschemas.append(schema[keyword])
    if isinstance(schema.get("items"), bool):
        return False  # ``items: false`` is spelled apart in each draft: leave it alone
    for keyword in ("enum", "const"):
        values = schema.get(keyword, [])
        values = values if isinstance(values, list) else [values]
        if not all(isinstance(item, str) for item in values):
            # fastjsonschema compares with Python's ==, for which true is 1: only strings
            # compare alike in both.
            return False
    return all(_shared_keywords_only(sub) for sub in subschemas)


def _compile(schema: Any) -> Check | None:
    """A fast check of ``schema`` (fastjsonschema's validator compiled to Python, ~15x
    jsonschema's on our answers), or None when the schema uses a keyword outside
    ``_SHARED_KEYWORDS``. Only its yes is trusted: ``schema_errors`` asks the full
    validator about anything it refuses, and a test holds it never looser than that
    validator."""
    if not _shared_keywords_only(schema):
        return None
    # No defaults filled in (the answer is not changed), no format checks, no messages.
    validate = fastjsonschema.compile(
        schema, use_default=False, use_formats=False, detailed_exceptions=False
    )

    def check(value: Any) -> bool:
        try:
            validate(value)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    return check


def schema_fast_check(schema: dict[str, Any]) -> Check | None:
    """The compiled check of ``schema`` (see ``_compile``) for a caller that keeps its own
    full validator: trust its yes only, ask the validator about anything it refuses."""
    return _compile(schema)


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _fast_check_for(canonical: str) -> Check | None:
    return _compile(json.loads(canonical))


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value``, each as ``path: message``.

    A value the schema's compiled check accepts has none (``_compile``: fastjsonschema,
    ~15x faster than the full validator on our answers, and never looser: a test holds it
    to the validator's verdicts); anything else goes to the full validator, which also
    writes the messages."""
    canonical = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    validator = _validator_for(canonical)  # a broken schema is refused first, as before
    fast = _fast_check_for(canonical)
    if fast is not None and fast(value):
        return []
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    messages = []
    for error in errors:
        path = "$" + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
        )
        messages.append(f"{path}: {error.message}")
    return messages


def _path_join(path: str, part: str | int) -> str:
    return f"{path}[{part}]" if isinstance(part, int) else f"{path}.{part}"


def _identity(item: Any) -> str:
    # Exact JSON equality: key order does not matter, types do (1, 1.0 and true stay
    # distinct; the validator then names them, as they are not exact duplicates).
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def _subschemas_for_key(schema: dict[str, Any], key: str) -> list[Any]:
    properties = schema.get("properties")
    if isinstance(properties, dict) and key in properties:
        return [properties[key]]
    patterns = schema.get("patternProperties")
    if isinstance(patterns, dict):
        matched = [sub for pattern, sub in patterns.items() if re.search(pattern, key)]
        if matched:
            return matched
    additional = schema.get("additionalProperties")
    return [additional] if isinstance(additional, dict) else []


def _subschemas_for_index(schema: dict[str, Any], index: int) -> list[Any]:
    prefix = schema.get("prefixItems")
    if isinstance(prefix, list) and index < len(prefix):
        return [prefix[index]]
    items = schema.get("items")
    return [items] if isinstance(items, dict) else []


def _normalise(value: Any, schema: Any, path: str, notes: list[str]) -> Any:
    if not isinstance(schema, dict):
        return value
    # allOf: every part applies, so each may normalise. anyOf/oneOf are left alone: which
    # branch the value is meant for is undecided, and guessing could change its meaning.
    for part in schema.get("allOf") or []:
        value = _normalise(value, part, path, notes)
    if isinstance(value, dict):
        result: dict[str, Any] = {}
        for key, item in value.items():
            for sub in _subschemas_for_key(schema, key):
                item = _normalise(item, sub, _path_join(path, key), notes)
            result[key] = item
        return result
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            for sub in _subschemas_for_index(schema, index):
                item = _normalise(item, sub, _path_join(path, index), notes)
            items.append(item)
        if schema.get("uniqueItems") is True:
            seen: set[str] = set()
            kept: list[Any] = []
            removed: list[str] = []
            for item in items:
                identity = _identity(item)
                if identity in seen:
                    removed.append(identity)
                    continue
                seen.add(identity)
                kept.append(item)
            if removed:
                shown = ", ".join(dict.fromkeys(removed))
                noun = "item" if len(removed) == 1 else "items"
                notes.append(f"{path}: removed {len(removed)} duplicate {noun} ({shown[:200]})")
            items = kept
        return items
    return value


def schema_normalise(value: Any, schema: dict[str, Any]) -> tuple[Any, list[str]]:
    """``value`` with what is harmless normalised, and a note per change.

    Pure: returns a new value and never touches ``value``. Follows the schema through
    ``properties``, ``patternProperties``, ``additionalProperties``, ``prefixItems``,
    ``items`` and ``allOf`` (not ``$ref``, ``anyOf`` or ``oneOf``). Today one change
    exists: exact duplicates leave arrays whose schema says ``uniqueItems: true``. Items
    are normalised first, so two items that differ only by such duplicates are duplicates.
    """
    notes: list[str] = []
    return _normalise(value, schema, "$", notes), notes


def structured_parse_with_notes(text: str, schema: dict[str, Any]) -> tuple[Any, list[str]]:
    """Extract, normalise and validate: the value and the normalisation notes.

    Raises ``StructuredOutputError`` naming every violation that normalising left.
    """
    value, notes = schema_normalise(json_extract(text), schema)
    errors = schema_errors(value, schema)
    if errors:
        raise StructuredOutputError("; ".join(errors[:10]))
    return value, notes


def structured_parse(text: str, schema: dict[str, Any]) -> Any:
    """Extract, normalise and validate; raises ``StructuredOutputError`` naming every
    violation."""
    return structured_parse_with_notes(text, schema)[0]
