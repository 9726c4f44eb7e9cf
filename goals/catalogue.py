"""What a catalogue workflow declares to the planner, and the loader that checks it.

A catalogue entry ties a published workflow to the arithmetic the planner does: the
metric it drives, how much of it one unit of volume is expected to yield, what one unit
costs, which workflow input sets the volume, and how many units a day it may run. The
planner multiplies these; the model only chooses among entries. Entries are JSON files
(``goals/catalogue/*.json``, one per workflow) so their defaults are reviewable text;
migration 0010 seeds one ``CatalogueItem`` row per file, and a person edits the rows'
figures in the admin. ``catalogue_load()`` reads the enabled rows; with a ``directory``
it reads the files (the seed, and what tests plan with).

No network; the ORM only in ``catalogue_load()`` without a directory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goals.vocabulary import CURRENCY_EXPONENTS, Metric

if TYPE_CHECKING:
    from goals.models import CatalogueItem

__all__ = [
    "CATALOGUE_DIR",
    "CatalogueEntry",
    "CatalogueError",
    "catalogue_entry_from_dict",
    "catalogue_item_dict",
    "catalogue_load",
]

#: The shipped entries.
CATALOGUE_DIR = Path(__file__).resolve().parent / "catalogue"

#: A catalogue file is a few hundred bytes; anything much larger is not one.
MAX_FILE_BYTES = 64 * 1024

#: A yield above this per unit is a typo (a percent typed as a count), not a forecast.
MAX_YIELD_PER_UNIT = Decimal("1000")

#: Metrics a workflow can drive: revenue growth is a goal's framing, not something an
#: action produces.
DRIVABLE_METRICS = (Metric.REVENUE, Metric.CUSTOMERS, Metric.TRIALS)

_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_PARAM = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

_FIELDS = (
    "key",
    "title",
    "workflow",
    "metric",
    "yield_per_unit",
    "unit",
    "unit_cost",
    "currency",
    "volume_param",
    "max_per_day",
    "yield_source",
)
_OPTIONAL = ("description",)


class CatalogueError(ValueError):
    """A catalogue entry that cannot be used; ``errors`` lists every problem at once."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


@dataclass(frozen=True)
class CatalogueEntry:
    """One workflow as the planner sees it.

    ``yield_per_unit`` is in the driven metric's unit per unit of volume: customers (or
    trials) per email sent, or, for ``revenue``, major currency units per unit.
    ``unit_cost`` is in major units of ``currency`` (what one unit costs: a send, an API
    call). ``volume_param`` is the workflow input the planner sets to the daily volume.
    """

    key: str
    title: str
    workflow: str
    metric: str
    yield_per_unit: Decimal
    unit: str
    unit_cost: Decimal
    currency: str
    volume_param: str
    max_per_day: int
    yield_source: str
    description: str = ""


def _decimal(data: dict[str, Any], name: str, errors: list[str]) -> Decimal | None:
    raw = data.get(name)
    # Strings only: a JSON float (0.1) has already lost its exact value when it arrives.
    if not isinstance(raw, str):
        errors.append(f'{name} must be a decimal written as a string, such as "0.05"')
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        errors.append(f"{name} is not a number: {raw[:40]!r}")
        return None
    if not value.is_finite():
        errors.append(f"{name} must be a finite number")
        return None
    return value


def _text(data: dict[str, Any], name: str, errors: list[str], *, limit: int = 200) -> str:
    raw = data.get(name)
    if not isinstance(raw, str) or not raw.strip():
        errors.append(f"{name} is required (a non-empty string)")
        return ""
    if len(raw) > limit:
        errors.append(f"{name} is longer than {limit} characters")
    return raw.strip()


def catalogue_entry_from_dict(data: Any, *, source: str = "entry") -> CatalogueEntry:
    """Validate one entry; raises ``CatalogueError`` naming ``source`` and every bad field."""
    if not isinstance(data, dict):
        raise CatalogueError(source, ["an entry must be a JSON object"])
    errors: list[str] = []
    unknown = sorted(set(data) - set(_FIELDS) - set(_OPTIONAL))
    if unknown:
        errors.append(f"unknown fields: {', '.join(unknown)}")
    missing = [name for name in _FIELDS if name not in data]
    if missing:
        errors.append(f"missing fields: {', '.join(missing)}")

    key = _text(data, "key", errors, limit=64)
    if key and not _KEY.match(key):
        errors.append("key must be lower-case letters, digits and _ (starting with a letter)")
    title = _text(data, "title", errors)
    workflow = _text(data, "workflow", errors)
    unit = _text(data, "unit", errors, limit=40)
    yield_source = _text(data, "yield_source", errors, limit=1000)
    description = data.get("description", "")
    if not isinstance(description, str):
        errors.append("description must be a string")
        description = ""

    metric = data.get("metric")
    if metric not in DRIVABLE_METRICS:
        errors.append(f"metric must be one of {', '.join(DRIVABLE_METRICS)}, got {metric!r}")

    yield_per_unit = _decimal(data, "yield_per_unit", errors)
    if yield_per_unit is not None and not Decimal(0) < yield_per_unit <= MAX_YIELD_PER_UNIT:
        errors.append(f"yield_per_unit must be above 0 and at most {MAX_YIELD_PER_UNIT}")
    unit_cost = _decimal(data, "unit_cost", errors)
    if unit_cost is not None and unit_cost < 0:
        errors.append("unit_cost must not be negative")

    currency = data.get("currency")
    if currency not in CURRENCY_EXPONENTS:
        known = ", ".join(sorted(CURRENCY_EXPONENTS))
        errors.append(f"currency must be one of {known}, got {currency!r}")
    elif unit_cost is not None and unit_cost.as_tuple().exponent < -CURRENCY_EXPONENTS[currency]:  # type: ignore[operator]
        errors.append(f"unit_cost has more decimals than {currency} has")

    volume_param = _text(data, "volume_param", errors, limit=64)
    if volume_param and not _PARAM.match(volume_param):
        errors.append("volume_param must be a workflow input name (letters, digits, _)")

    max_per_day = data.get("max_per_day")
    # bool is an int in Python: true must not read as 1.
    if not isinstance(max_per_day, int) or isinstance(max_per_day, bool) or max_per_day < 1:
        errors.append(f"max_per_day must be a whole number of at least 1, got {max_per_day!r}")

    if errors:
        raise CatalogueError(source, errors)
    assert yield_per_unit is not None and unit_cost is not None  # narrowed by the checks
    return CatalogueEntry(
        key=key,
        title=title,
        workflow=workflow,
        metric=str(metric),
        yield_per_unit=yield_per_unit,
        unit=unit,
        unit_cost=unit_cost,
        currency=str(currency),
        volume_param=volume_param,
        max_per_day=int(max_per_day),  # type: ignore[arg-type]
        yield_source=yield_source,
        description=description,
    )


def catalogue_item_dict(item: CatalogueItem) -> dict[str, Any]:
    """A row as the JSON entry it came from (decimals as strings), for the same checks."""
    return {
        "key": item.key,
        "title": item.title,
        "workflow": item.workflow,
        "description": item.description,
        "metric": item.metric,
        # normalize() drops the column's padding zeros (0.150000 -> 0.15); the exponent
        # check against the currency must see the value, not the column's scale.
        "yield_per_unit": _plain(item.yield_per_unit),
        "unit": item.unit,
        "unit_cost": _plain(item.unit_cost),
        "currency": item.currency,
        "volume_param": item.volume_param,
        "max_per_day": item.max_per_day,
        "yield_source": item.yield_source,
    }


def _plain(value: Decimal) -> str:
    """``Decimal('3.0000')`` -> ``"3"``; never scientific notation (``1E+1``)."""
    return format(value.normalize(), "f")


def catalogue_load(directory: Path | None = None) -> list[CatalogueEntry]:
    """The planner's catalogue: the enabled ``CatalogueItem`` rows, in key order.

    With ``directory``: every ``*.json`` entry there instead, in file-name order (keys
    must be unique). Raises ``CatalogueError`` for the first bad file or row (naming it)
    or a duplicate key.
    """
    if directory is None:
        from goals.models import CatalogueItem  # the ORM only on this path

        return [
            catalogue_entry_from_dict(
                catalogue_item_dict(item), source=f"catalogue item {item.key}"
            )
            for item in CatalogueItem.objects.filter(enabled=True).order_by("key")
        ]
    entries: list[CatalogueEntry] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        if path.stat().st_size > MAX_FILE_BYTES:
            raise CatalogueError(path.name, [f"file is larger than {MAX_FILE_BYTES} bytes"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CatalogueError(path.name, [f"not valid JSON: {exc}"]) from None
        entry = catalogue_entry_from_dict(data, source=path.name)
        if entry.key in seen:
            raise CatalogueError(
                path.name, [f"key {entry.key!r} is also used by {seen[entry.key]}"]
            )
        seen[entry.key] = path.name
        entries.append(entry)
    return entries
