"""The workflow catalogue's services: a person edits an item's figures; the catalogue's
workflows are installed as drafts.

``catalogue_item_update`` checks the changed row with the same rules (and messages) as
the JSON loader (``goals.catalogue.catalogue_entry_from_dict``), so a figure that
could not be shipped in a file cannot be typed into the admin either.

``catalogue_workflows_install`` imports each document in ``goals/catalogue/workflows/``
whose key has no workflow yet, as a **draft**: publishing is a person's decision (and
governance asks about the new hosts a published version calls).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction

from decisions.actors import Actor
from decisions.services.audit import audit_log
from goals.catalogue import (
    CATALOGUE_DIR,
    CatalogueEntry,
    CatalogueError,
    catalogue_entry_from_dict,
    catalogue_item_dict,
)
from goals.models import CatalogueItem
from workflows.errors import WorkflowInvalid
from workflows.models import Workflow
from workflows.services.definitions import workflow_create

__all__ = [
    "EDITABLE_FIELDS",
    "WORKFLOWS_DIR",
    "CatalogueItemInvalid",
    "InstallResult",
    "catalogue_item_check",
    "catalogue_item_update",
    "catalogue_workflows_install",
]

#: What a person may change; the rest (key, workflow, metric...) is the workflow's nature.
EDITABLE_FIELDS = ("yield_per_unit", "unit_cost", "max_per_day", "enabled", "run_inputs")
#: Run inputs are stored with every run and shown in the admin: a name that looks like a
#: credential is refused rather than trusted to be harmless.
_SECRET_NAME = re.compile(r"pass(word)?|secret|token|api[_-]?key|auth|credential|private", re.I)
_MAX_RUN_INPUTS = 30
_MAX_RUN_INPUT_CHARS = 2000
CHANGE_PERMISSION = "goals.change_catalogueitem"
#: The catalogue's workflow documents (one per catalogue entry's ``workflow`` key).
WORKFLOWS_DIR = CATALOGUE_DIR / "workflows"

#: The columns' limits (``DecimalField(max_digits=14, decimal_places=...)``), which the
#: loader does not know about: a value past them would fail at the database instead.
_DECIMAL_PLACES = {"yield_per_unit": 6, "unit_cost": 4}
_MAX_DIGITS = 14
_MAX_PER_DAY = 2**31 - 1


class CatalogueItemInvalid(ValueError):
    """The edit was refused; ``errors`` maps each field to its messages (``__all__``: none)."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(m for messages in errors.values() for m in messages))


def _field_of(message: str) -> str:
    """The field a loader message is about (each starts with the field's name)."""
    for name in EDITABLE_FIELDS:
        if message.startswith(name):
            return name
    return "__all__"


def _as_text(name: str, value: Any) -> Any:
    """Form and API values as the loader reads them: decimals written as strings."""
    if name in _DECIMAL_PLACES and isinstance(value, Decimal | int) and not isinstance(value, bool):
        return str(value)
    return value


def _column_errors(values: dict[str, Any]) -> list[str]:
    errors = []
    for name, places in _DECIMAL_PLACES.items():
        raw = values.get(name)
        try:
            number = Decimal(raw) if isinstance(raw, str) else None
        except InvalidOperation:
            continue  # the loader names it
        if number is None or not number.is_finite():
            continue
        exponent = number.normalize().as_tuple().exponent
        if isinstance(exponent, int) and -exponent > places:
            errors.append(f"{name} has more than {places} decimals")
        if abs(number) >= Decimal(10) ** (_MAX_DIGITS - places):
            errors.append(f"{name} must be below {10 ** (_MAX_DIGITS - places)}")
    cap = values.get("max_per_day")
    if isinstance(cap, int) and not isinstance(cap, bool) and cap > _MAX_PER_DAY:
        errors.append(f"max_per_day must be at most {_MAX_PER_DAY}")
    return errors


def run_inputs_problems(value: Any, *, volume_param: str) -> list[str]:
    """What is wrong with a catalogue item's run inputs (every problem; [] when fine).

    A flat JSON object of names to plain values (text, numbers, true/false). The volume
    is the planner's to set, and a credential has no place in a value stored with every
    run: both are refused by name.
    """
    if not isinstance(value, dict):
        return ["run_inputs must be a JSON object of input names to values"]
    problems = []
    if len(value) > _MAX_RUN_INPUTS:
        problems.append(f"run_inputs has {len(value)} entries; at most {_MAX_RUN_INPUTS}")
    for name, item in value.items():
        if not name.strip():
            problems.append("run_inputs has an empty input name")
        elif name == volume_param:
            problems.append(f"run_inputs cannot set {name!r}: the planner sets the volume")
        elif _SECRET_NAME.search(name):
            problems.append(
                f"run_inputs {name!r} looks like a credential: run inputs are stored with "
                "every run, so keep passwords and API keys out of them"
            )
        if isinstance(item, dict | list) or item is None:
            problems.append(f"run_inputs {name!r} must be text, a number or true/false")
        elif isinstance(item, str) and len(item) > _MAX_RUN_INPUT_CHARS:
            problems.append(f"run_inputs {name!r} is longer than {_MAX_RUN_INPUT_CHARS} characters")
    return problems


def catalogue_item_check(*, item: CatalogueItem, values: dict[str, Any]) -> CatalogueEntry:
    """The item as it would be with ``values`` applied, checked; saves nothing.

    The loader's rules and messages (``catalogue_entry_from_dict``) plus the columns'
    limits. Raises ``CatalogueItemInvalid`` with every problem per field. The admin's
    form calls it to show each error next to its field; ``catalogue_item_update``
    calls it again under the row lock.
    """
    unknown = sorted(set(values) - set(EDITABLE_FIELDS))
    if unknown:
        raise CatalogueItemInvalid(
            {"__all__": [f"these fields cannot be changed here: {', '.join(unknown)}"]}
        )
    current = catalogue_item_dict(item)
    merged = {
        **current,
        **{k: _as_text(k, v) for k, v in values.items() if k not in ("enabled", "run_inputs")},
    }
    messages: list[str] = []
    if "run_inputs" in values:
        messages.extend(run_inputs_problems(values["run_inputs"], volume_param=item.volume_param))
    enabled = values.get("enabled", item.enabled)
    if not isinstance(enabled, bool):
        messages.append(f"enabled must be true or false, got {enabled!r}")
    entry = None
    try:
        entry = catalogue_entry_from_dict(merged, source=f"catalogue item {item.key}")
    except CatalogueError as exc:
        messages.extend(exc.errors)
    messages.extend(_column_errors(merged))
    if messages or entry is None:
        errors: dict[str, list[str]] = {}
        for message in messages:
            errors.setdefault(_field_of(message), []).append(message)
        raise CatalogueItemInvalid(errors)
    return entry


@transaction.atomic
def catalogue_item_update(*, item_id: int, values: dict[str, Any], actor: Actor) -> CatalogueItem:
    """Change an item's yield, cost, cap, enabled flag or run inputs, checked and audited.

    ``values`` holds only the fields to change (decimals as strings or ``Decimal``).
    Raises ``CatalogueItemInvalid`` with every problem per field (nothing saved),
    ``PermissionDenied`` for a person without ``goals.change_catalogueitem`` and
    ``CatalogueItem.DoesNotExist``. Writes ``goals.catalogue_item_changed`` with each
    changed field's old and new value in the same transaction; an edit that changes
    nothing writes nothing.
    """
    if actor is not None and not actor.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied(f"this needs the {CHANGE_PERMISSION} permission")
    # Locked: two people saving at once apply one after the other, and each audit row's
    # "old" is what that edit really replaced.
    item = CatalogueItem.objects.select_for_update().get(pk=item_id)
    current = catalogue_item_dict(item)
    entry = catalogue_item_check(item=item, values=values)
    enabled = values.get("enabled", item.enabled)
    new = {
        "yield_per_unit": entry.yield_per_unit,
        "unit_cost": entry.unit_cost,
        "max_per_day": entry.max_per_day,
        "enabled": enabled,
        "run_inputs": values.get("run_inputs", item.run_inputs),
    }
    changes: dict[str, list[Any]] = {}
    for name, value in new.items():
        old = getattr(item, name)
        if old != value:
            # Decimals as the loader writes them ("0.15"), so the audit reads like the file.
            changes[name] = (
                [current[name], format(value.normalize(), "f")]
                if name in _DECIMAL_PLACES
                else [old, value]
            )
            setattr(item, name, value)
    if not changes:
        return item
    item.updated_by = actor if actor is not None and actor.is_authenticated else None
    item.save(update_fields=[*changes, "updated_at", "updated_by"])
    audit_log(
        action="goals.catalogue_item_changed",
        actor=actor,
        subject=item,
        data={"key": item.key, "changes": changes},
    )
    return item


@dataclass(frozen=True)
class InstallResult:
    """What install did with one document: ``created`` (draft ``workflow_id``) or
    ``exists`` (a workflow with the key was there already; ``workflow_id`` is its newest)."""

    key: str
    outcome: str
    workflow_id: int


def _documents(directory: Path) -> list[dict[str, Any]]:
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in sorted(directory.glob("*.json"))
    ]


def catalogue_workflows_install(
    *, actor: Actor, directory: Path = WORKFLOWS_DIR
) -> list[InstallResult]:
    """Import each catalogue workflow whose key has no workflow yet, as a draft.

    Idempotent: a key that exists in any version or status is left alone (a person may
    have edited or retired it). Never publishes. Raises ``WorkflowInvalid`` for a
    document with problems (the documents ship with the code, so that is a bug) and
    ``PermissionDenied`` for a person without ``workflows.add_workflow``.
    """
    results = []
    for document in _documents(directory):
        key = document["key"]
        existing = Workflow.objects.filter(key=key).order_by("-version").first()
        if existing is None:
            try:
                created = workflow_create(document=document, actor=actor)
            except WorkflowInvalid as exc:
                if not any(p["code"] == "KEY_TAKEN" for p in exc.problems):
                    raise
                # Another install created it between the check and the insert.
                existing = Workflow.objects.filter(key=key).order_by("-version").first()
            else:
                results.append(InstallResult(key=key, outcome="created", workflow_id=created.pk))
                continue
        assert existing is not None
        results.append(InstallResult(key=key, outcome="exists", workflow_id=existing.pk))
    return results
