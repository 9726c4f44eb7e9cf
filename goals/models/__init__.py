"""The goals app's models, one module per concern.

* ``loop``: the idea studio's work queue (Task), loop log (Iteration), LoopState,
  TokenGrant and LoopSlot.
* ``goal``: Goal, PlanRevision, MetricSnapshot, WebhookDelivery, GoalOrigin.
* ``execution``: CatalogueItem, GoalRun, GoalReport.

Only ``goals.services`` writes these rows. Status machines are explicit: each model
lists its allowed transitions (``TRANSITIONS``), each transition has one guarded,
race-safe service that checks the table, and a test checks the table against them.
"""

from goals.models.execution import CatalogueItem, GoalReport, GoalRun
from goals.models.goal import Goal, GoalOrigin, MetricSnapshot, PlanRevision, WebhookDelivery
from goals.models.loop import (
    PLAN,
    Iteration,
    LoopSlot,
    LoopState,
    Role,
    RolePrompt,
    Task,
    TaskKind,
    TokenDay,
    TokenGrant,
)
from goals.vocabulary import FieldSource, Metric
from ideas.models import Mode

__all__ = [
    "PLAN",
    "CatalogueItem",
    "FieldSource",
    "Goal",
    "GoalOrigin",
    "GoalReport",
    "GoalRun",
    "Iteration",
    "LoopSlot",
    "LoopState",
    "Metric",
    "MetricSnapshot",
    "Mode",
    "PlanRevision",
    "Role",
    "RolePrompt",
    "Task",
    "TaskKind",
    "TokenDay",
    "TokenGrant",
    "WebhookDelivery",
]
