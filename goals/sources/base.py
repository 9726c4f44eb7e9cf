"""The one interface every metric source speaks, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable


class SourceError(Exception):
    """A source could not be read; the message names the source and the cause."""


@dataclass(frozen=True)
class Reading:
    """One day's value of one metric: minor units of ``currency`` for revenue, else a count."""

    value: int
    currency: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class MetricSource(Protocol):
    """A place a metric can be read from.

    ``name`` is a ``MetricSnapshot.Source`` value; ``read`` returns None when the source
    does not know this metric (or has no figure for that day), never a made-up zero.
    """

    name: str

    def enabled(self) -> bool: ...

    def read(self, *, metric: str, day: date) -> Reading | None: ...
