"""The django-q2 schedules goals need: the executor, the monitor and the reports.

Each is a bounded, idempotent tick (a second tick in the same minute finds nothing to
do); ``goal_schedules`` (run by ``make run``) creates or corrects them.
"""

from __future__ import annotations

from bizagent.schedules import minute_schedules_ensure

#: name -> (task function path, every N minutes)
SCHEDULES: dict[str, tuple[str, int]] = {
    "goals.plan_decisions_settle": ("goals.tasks.plan_decisions_settle_task", 1),
    "goals.execute": ("goals.tasks.goals_execute_task", 1),
    "goals.monitor": ("goals.tasks.goals_monitor", 60),
    # Reports are due once a day; hourly keeps a failed mail's retry within the hour.
    "goals.reports": ("goals.tasks.goals_report_tick", 60),
}


def goals_schedules_ensure() -> list[str]:
    """Create or correct the schedules (idempotent); returns the names created or changed."""
    return minute_schedules_ensure(SCHEDULES)
