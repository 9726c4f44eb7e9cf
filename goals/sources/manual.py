"""Manual entries: a person types a figure in the admin (``snapshot_record(source=manual)``).

Nothing is read from anywhere, so the source is never polled by ``snapshots_take``.
"""

from __future__ import annotations

from datetime import date

from goals.models import MetricSnapshot
from goals.sources.base import Reading


class ManualSource:
    name = MetricSnapshot.Source.MANUAL.value

    def enabled(self) -> bool:
        # Entries arrive through the admin form; there is nothing to poll.
        return False

    def read(self, *, metric: str, day: date) -> Reading | None:
        return None
