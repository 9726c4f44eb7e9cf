"""Workflow models, one module per concern (definitions and run state in ``core``).

Each module's models are re-exported here so ``from workflows.models import Run`` works.
"""

from workflows.models.core import Edge, OnError, Run, RunTrigger, Step, StepRun, Workflow
from workflows.models.memory import MemoryMessage
from workflows.models.rag import Chunk, Collection, Document
from workflows.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "Chunk",
    "Collection",
    "Document",
    "Edge",
    "MemoryMessage",
    "OnError",
    "Run",
    "RunTrigger",
    "Step",
    "StepRun",
    "Workflow",
]
