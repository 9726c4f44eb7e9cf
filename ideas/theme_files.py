"""Load and validate theme files against the published JSON Schemas in ``ideas/schemas``.

Every error names the field by its path (``config.iteration_policy.explore_ratio``), so
an operator can fix the file without reading a traceback. Nothing here writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from django.utils.translation import gettext as _
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError

from bizagent.bounded_json import InputRefused, file_read_bounded, json_loads_bounded
from bizagent.llm.structured import Check, schema_fast_check

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
EXAMPLE_DIR = Path(__file__).resolve().parent / "example_theme"
IP_PROFILE_SCHEMA = "ip_profile.schema.json"
THEME_CONFIG_SCHEMA = "theme_config.schema.json"
IDEA_SCHEMA = "idea.schema.json"

#: How much of one schema error is shown (it quotes the offending value in full).
MESSAGE_CHARS = 200

_REQUIRED_RE = re.compile(r"^'(?P<name>.+)' is a required property$")


class ThemeFilesInvalid(Exception):
    """One or both theme files failed validation; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


@functools.cache
def schema_load(name: str) -> dict[str, Any]:
    """A published schema by file name, checked against its metaschema once per process."""
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@functools.cache
def _validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(schema_load(name))


#: Root keywords that name a schema and do not constrain a document: the validator above
#: is draft 2020-12 whatever ``$schema`` says, and no schema of ours has a ``$ref`` for
#: ``$id`` to resolve.
_IDENTIFIERS = frozenset({"$schema", "$id"})


@functools.cache
def _fast_check(name: str) -> Check | None:
    """The compiled check of a published schema (``schema_fast_check``; ~15x the full
    validator on a valid document), its root identifiers left out, or None when the
    schema uses a keyword the check does not read alike."""
    schema = {key: value for key, value in schema_load(name).items() if key not in _IDENTIFIERS}
    return schema_fast_check(schema)


def _path(label: str, parts: Any) -> str:
    text = label
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _messages(label: str, error: SchemaError) -> list[str]:
    where = _path(label, error.absolute_path)
    if error.validator == "required":
        match = _REQUIRED_RE.match(error.message)
        if match:
            return [_("%(field)s: is required") % {"field": f"{where}.{match['name']}"}]
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        # additionalProperties only runs on an object schema (a mapping, not True/False).
        known = set(cast("Mapping[str, Any]", error.schema).get("properties", {}))
        extra = sorted(key for key in error.instance if key not in known)
        if extra:
            return [
                _("%(field)s: is not an allowed field") % {"field": f"{where}.{key}"}
                for key in extra
            ]
    message = error.message
    if len(message) > MESSAGE_CHARS:
        # jsonschema quotes the whole offending value; a 10 MB string is not a message.
        message = message[:MESSAGE_CHARS] + "…"
    return [f"{where}: {message}"]


def document_errors(*, document: Any, schema_name: str, label: str) -> list[str]:
    """Every schema violation of ``document``, each starting with its field path.

    A document the compiled check accepts has none (the loop validates every idea it
    writes); anything it refuses goes to the full validator, which writes the messages."""
    fast = _fast_check(schema_name)
    if fast is not None and fast(document):
        return []
    errors = sorted(
        _validator(schema_name).iter_errors(document),
        key=lambda e: [str(p) for p in e.absolute_path],
    )
    messages: list[str] = []
    for error in errors:
        messages.extend(_messages(label, error))
    return messages


def document_parse(*, data: bytes, label: str) -> tuple[Any, list[str]]:
    """The parsed JSON of ``data`` (an uploaded file's bytes), or the error that stopped it.

    Bounded as ``json_loads_bounded`` is (size, depth, NaN/Infinity, lone surrogates).
    """
    try:
        return json_loads_bounded(data, what=label), []
    except InputRefused as exc:
        return None, [str(exc)]


def document_read(*, path: str | Path, label: str) -> tuple[Any, list[str]]:
    """The parsed JSON of ``path``, or the one error that prevented reading it.

    The read is bounded (``/dev/zero`` is refused, not read) and so is the JSON (depth,
    NaN/Infinity, lone surrogates): a hostile file gets one line, never a traceback.
    """
    try:
        data = file_read_bounded(path, what=label)
    except InputRefused as exc:
        return None, [str(exc)]
    return document_parse(data=data, label=label)


def _documents_check(
    ip_profile: tuple[Any, list[str]], config: tuple[Any, list[str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both parsed documents against their schemas; every error at once, or the documents."""
    errors: list[str] = []
    for (document, read_errors), schema_name, label in (
        (ip_profile, IP_PROFILE_SCHEMA, "ip_profile"),
        (config, THEME_CONFIG_SCHEMA, "config"),
    ):
        errors.extend(read_errors)
        if not read_errors:
            errors.extend(document_errors(document=document, schema_name=schema_name, label=label))
    if errors:
        raise ThemeFilesInvalid(errors)
    return ip_profile[0], config[0]


def theme_files_validate(
    *, ip_profile_path: str | Path, config_path: str | Path
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both documents, validated; raises ``ThemeFilesInvalid`` with every error found."""
    return _documents_check(
        document_read(path=ip_profile_path, label="ip_profile"),
        document_read(path=config_path, label="config"),
    )


def theme_uploads_validate(
    *, ip_profile_data: bytes, config_data: bytes
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Uploaded files' bytes, validated exactly as ``theme_files_validate`` validates files
    (the admin's upload and ``newtheme`` share every rule); raises ``ThemeFilesInvalid``."""
    return _documents_check(
        document_parse(data=ip_profile_data, label="ip_profile"),
        document_parse(data=config_data, label="config"),
    )


def canonical_json(document: Any) -> str:
    """Sorted keys, fixed separators, real Unicode: the same bytes for the same data."""
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def document_sha256(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()
