"""Metric sources behind one interface (``MetricSource``): Whop, a Sheets range,
workflow run outputs and manual entries. ``sources_all`` lists them for
``snapshots_take``; storing a reading is ``goals.services.snapshots``' business."""

from goals.sources.base import MetricSource, Reading, SourceError
from goals.sources.manual import ManualSource
from goals.sources.runs import RunsSource
from goals.sources.sheets import SheetsSource
from goals.sources.whop import WhopSource

__all__ = [
    "ManualSource",
    "MetricSource",
    "Reading",
    "RunsSource",
    "SheetsSource",
    "SourceError",
    "WhopSource",
    "sources_all",
]


def sources_all() -> list[MetricSource]:
    """Every source, enabled or not (``snapshots_take`` asks each ``enabled()``)."""
    return [WhopSource(), SheetsSource(), RunsSource(), ManualSource()]
