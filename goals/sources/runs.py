"""Counts from workflow run outputs: sends and trials.

A run counts when it finished that day (succeeded or partially) and its output has a
numeric field named after the metric (``{"sends": 40}``); ``workflow_keys`` narrows it
to some workflows. Booleans and non-numbers are skipped: a run that says ``"sends":
"many"`` did not report a count.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from goals.models import MetricSnapshot
from goals.sources.base import Reading
from workflows.models import Run

#: The metrics workflows report in their output.
RUN_METRICS = frozenset({MetricSnapshot.Measure.SENDS.value, MetricSnapshot.Measure.TRIALS.value})
_COUNTED = (Run.Status.SUCCEEDED, Run.Status.PARTIALLY_SUCCEEDED)


class RunsSource:
    name = MetricSnapshot.Source.WORKFLOW_RUNS.value

    def __init__(self, *, workflow_keys: Iterable[str] | None = None) -> None:
        self.workflow_keys = frozenset(workflow_keys) if workflow_keys is not None else None

    def enabled(self) -> bool:
        # The engine is always there; a day without runs reads as "no figure".
        return True

    def read(self, *, metric: str, day: date) -> Reading | None:
        if metric not in RUN_METRICS:
            return None
        runs = Run.objects.filter(status__in=_COUNTED, finished_at__date=day, is_test=False)
        if self.workflow_keys is not None:
            runs = runs.filter(workflow__key__in=self.workflow_keys)
        total = 0
        counted = 0
        for output in runs.values_list("output", flat=True).iterator():
            value = output.get(metric) if isinstance(output, dict) else None
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                continue
            total += int(value)
            counted += 1
        if not counted:
            return None
        return Reading(value=total, detail={"runs": counted})
