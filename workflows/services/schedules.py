"""The django-q2 schedule the engine needs: the every-minute catch-up sweep."""

from __future__ import annotations

from bizagent.schedules import minute_schedules_ensure

SCHEDULES = {"workflows.catch_up": ("workflows.tasks.workflows_catch_up_task", 1)}


def workflows_schedules_ensure() -> list[str]:
    """Create or correct the schedules (idempotent); returns the names created or changed."""
    return minute_schedules_ensure(SCHEDULES)
