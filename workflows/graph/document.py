"""What a workflow document holds: its fields, their defaults, and its key."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from django.utils.text import slugify

#: Step names are the tool names an agent sees: the model's function-name alphabet.
STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KEY = re.compile(r"^[-a-z0-9_]{1,80}$")

_DOCUMENT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "input_schema": {"type": "object"},
    "output": {},
    "is_system": False,
    "timeout_seconds": 3600,
}
_STEP_DEFAULTS: dict[str, Any] = {
    "description": "",
    "config": {},
    "input_schema": None,
    "retry": {},
    "on_error": "fail",
    "default_output": None,
    "timeout_seconds": 300,
    "tool_only": False,
    "idempotent": False,
}
_EDGE_DEFAULTS: dict[str, Any] = {"port": "out"}

DOCUMENT_KEYS = frozenset({"name", "key", "steps", "edges", *_DOCUMENT_DEFAULTS})
STEP_KEYS = frozenset({"name", "block", *_STEP_DEFAULTS})
EDGE_KEYS = frozenset({"from", "to", *_EDGE_DEFAULTS})


def document_normalise(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``document`` with every optional field filled with its default.

    Only fields that are absent are filled; a present value (even a wrong one) is kept
    for ``graph_validate`` to judge. ``key`` is left alone: the definitions service
    derives it from the name when it is missing.
    """
    result = copy.deepcopy(document)
    if not isinstance(result, dict):
        return result
    for key, default in _DOCUMENT_DEFAULTS.items():
        result.setdefault(key, copy.deepcopy(default))
    result.setdefault("steps", [])
    result.setdefault("edges", [])
    if isinstance(result["steps"], list):
        for step in result["steps"]:
            if isinstance(step, dict):
                for key, default in _STEP_DEFAULTS.items():
                    step.setdefault(key, copy.deepcopy(default))
    if isinstance(result["edges"], list):
        for edge in result["edges"]:
            if isinstance(edge, dict):
                for key, default in _EDGE_DEFAULTS.items():
                    edge.setdefault(key, default)
    return result


def document_key(document: Mapping[str, Any]) -> str:
    """The document's key: as given, or derived from its name (as the services do)."""
    key = document.get("key")
    if isinstance(key, str) and key:
        return key
    name = document.get("name")
    return slugify(name) if isinstance(name, str) else ""
