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
from collections.abc import Callable, Sized
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

#: Keywords that never change whether a value is valid.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "$comment",
        "default",
        "examples",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)

_TYPES: dict[str, Check] = {
    # As jsonschema's draft 2020-12 type checker: booleans are not numbers, and a float
    # with no fractional part is an integer.
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "integer": lambda v: (
        not isinstance(v, bool)
        and (isinstance(v, int) or (isinstance(v, float) and v.is_integer()))
    ),
}


#: The kind of value each size keyword measures (others pass it by).
_SIZED: dict[str, type[Sized]] = {
    "minItems": list,
    "maxItems": list,
    "minLength": str,
    "maxLength": str,
    "minProperties": dict,
}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _type_ok(tests: tuple[Check, ...], v: Any) -> bool:
    return any(test(v) for test in tests)


def _enum_ok(allowed: frozenset[str], v: Any) -> bool:
    return isinstance(v, str) and v in allowed


def _required_ok(names: tuple[str, ...], v: Any) -> bool:
    return not isinstance(v, dict) or all(name in v for name in names)


def _items_ok(check: Check, v: Any) -> bool:
    if not isinstance(v, list):
        return True
    for item in v:  # noqa: SIM110 - a loop is ~2x all() over a generator here
        if not check(item):
            return False
    return True


def _size_at_least(n: int, kind: type[Sized], v: Any) -> bool:
    return not isinstance(v, kind) or len(v) >= n


def _size_at_most(n: int, kind: type[Sized], v: Any) -> bool:
    return not isinstance(v, kind) or len(v) <= n


# The comparisons written as jsonschema writes them (``instance < minimum`` is an error),
# so a NaN compares the same way in both.
def _at_least(m: float, v: Any) -> bool:
    return not _is_number(v) or not v < m


def _at_most(m: float, v: Any) -> bool:
    return not _is_number(v) or not v > m


def _unique_scalars(items: list[Any]) -> bool:
    """Are ``items`` distinct scalars? Keyed so that whatever jsonschema's equality holds
    equal collides here too (1 and 1.0 share a key, true and 1 do not); containers are not
    judged here (False: the full validator decides)."""
    seen = set()
    for item in items:
        if isinstance(item, dict | list):
            return False
        key = ("b", item) if isinstance(item, bool) else ("v", item)
        if key in seen:
            return False
        seen.add(key)
    return True


def _compile(schema: Any) -> Check | None:
    """A fast check of ``schema`` for the keywords our schemas use, or None when it uses
    another (the full validator alone then judges). The check never accepts what the
    full validator refuses: where unsure it says False, and ``schema_errors`` then asks
    the validator, which also writes the messages."""
    if schema is True:
        return lambda v: True
    if not isinstance(schema, dict):
        return None
    checks: list[Check] = []
    properties: dict[str, Check] = {}
    additional: Check | bool | None = True
    for keyword, arg in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword == "type":
            names = [arg] if isinstance(arg, str) else arg
            if not isinstance(names, list) or not all(n in _TYPES for n in names):
                return None
            tests = [_TYPES[n] for n in names]
            checks.append(functools.partial(_type_ok, tuple(tests)))
        elif keyword == "enum":
            if not isinstance(arg, list) or not all(isinstance(e, str) for e in arg):
                return None
            allowed = frozenset(arg)
            checks.append(functools.partial(_enum_ok, allowed))
        elif keyword == "required":
            names_required = tuple(arg)
            checks.append(functools.partial(_required_ok, names_required))
        elif keyword == "properties":
            for name, sub in arg.items():
                compiled = _compile(sub)
                if compiled is None:
                    return None
                properties[name] = compiled
        elif keyword == "additionalProperties":
            if isinstance(arg, bool):
                additional = arg
            else:
                additional = _compile(arg)
                if additional is None:
                    return None
        elif keyword == "items":
            item_check = _compile(arg)
            if item_check is None:
                return None
            checks.append(functools.partial(_items_ok, item_check))
        elif keyword in ("minItems", "maxItems", "minLength", "maxLength", "minProperties"):
            if not isinstance(arg, int) or isinstance(arg, bool):
                return None
            kind = _SIZED[keyword]
            if keyword.startswith("min"):
                checks.append(functools.partial(_size_at_least, arg, kind))
            else:
                checks.append(functools.partial(_size_at_most, arg, kind))
        elif keyword in ("minimum", "maximum"):
            if not _is_number(arg):
                return None
            if keyword == "minimum":
                checks.append(functools.partial(_at_least, arg))
            else:
                checks.append(functools.partial(_at_most, arg))
        elif keyword == "uniqueItems":
            if arg is True:
                checks.append(lambda v: not isinstance(v, list) or _unique_scalars(v))
            elif arg is not False:
                return None
        else:
            return None  # a keyword this compiler does not know: the validator judges
    if properties or additional is not True:

        def object_check(
            v: Any, props: dict[str, Check] = properties, extra: Any = additional
        ) -> bool:
            if not isinstance(v, dict):
                return True
            for key, item in v.items():
                check = props.get(key)
                if check is not None:
                    if not check(item):
                        return False
                elif extra is False or (extra is not True and not extra(item)):
                    return False
            return True

        checks.append(object_check)
    return functools.partial(_all_ok, tuple(checks))


def _all_ok(checks: tuple[Check, ...], v: Any) -> bool:
    # A loop, not all() over a generator: this runs for every node of every answer.
    for check in checks:  # noqa: SIM110 - a loop is ~2x all() over a generator here
        if not check(v):
            return False
    return True


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _fast_check_for(canonical: str) -> Check | None:
    return _compile(json.loads(canonical))


def schema_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """Every violation of ``schema`` by ``value``, each as ``path: message``.

    A value the schema's compiled check accepts has none (that check covers the keywords
    our schemas use, ~20x faster than the full validator, and is never looser: a test
    holds it to the validator's verdicts); anything else goes to the full validator."""
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
