"""Workflow models, one module per concern (definitions and run state in ``core``).

Each module's models are re-exported here so ``from workflows.models import Run`` works.
"""

from workflows.models.core import Edge, OnError, Run, RunTrigger, Step, StepRun, Workflow
from workflows.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "Edge",
    "OnError",
    "Run",
    "RunTrigger",
    "Step",
    "StepRun",
    "Workflow",
]
