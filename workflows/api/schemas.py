"""The API's request and response shapes (pydantic, via ninja): the OpenAPI document is
generated from these same classes, so the docs cannot drift from what is checked.

Request bodies refuse unknown keys and wrong types (``strict``): a string where a
number belongs is an error, not a silent conversion. What the shapes cannot say (an
unknown block, a cycle, a bad template) is the validator's job (``workflows.graph``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema
from pydantic import ConfigDict, field_validator

from workflows.models import OnError

JSON = Any


class StrictIn(Schema):
    model_config = ConfigDict(extra="forbid", strict=True)


# --- errors -------------------------------------------------------------------------


class ProblemOut(Schema):
    code: str = Field(description="MISSING, TYPE, UNKNOWN_KEY, UNKNOWN_BLOCK, CYCLE…")
    message: str
    step: str | None = None
    path: str = Field(description="Where in the request, as a dot path (steps.0.config.url).")


class ErrorsOut(Schema):
    errors: list[ProblemOut]


class DetailOut(Schema):
    detail: str


# --- blocks ---------------------------------------------------------------------------


class BlockOut(Schema):
    slug: str
    name: str
    category: str
    description: str
    side_effects: bool
    can_be_tool: bool


class BlockDetailOut(BlockOut):
    config_schema: dict[str, Any]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class BlockPage(Schema):
    data: list[BlockOut]
    next_cursor: str | None


# --- workflow documents ---------------------------------------------------------------


class StepIn(StrictIn):
    """One step of a document; only ``name`` and ``block`` are required."""

    name: str = Field(description="^[a-z][a-z0-9_]{0,63}$: templates and agents use it.")
    block: str = Field(description="A block slug (GET /blocks).")
    description: str = ""
    config: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] | None = None
    retry: dict[str, Any] = Field(
        default_factory=dict,
        description='{"attempts": 3, "backoff": "exponential", "delay_seconds": 1.0, '
        '"on": ["timeout"]}',
    )
    on_error: str = Field(default=OnError.FAIL.value, description=" | ".join(OnError.values))
    default_output: JSON = None
    timeout_seconds: int = Field(default=300, ge=1)
    tool_only: bool = False
    idempotent: bool = False

    @field_validator("on_error")
    @classmethod
    def _on_error_known(cls, value: str) -> str:
        if value not in OnError.values:
            raise ValueError(f"on_error must be one of {', '.join(OnError.values)}")
        return value


class EdgeIn(StrictIn):
    """From a step's port to a step, both by name."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    source: str = Field(alias="from")
    port: str = "out"
    to: str


class StepCreateIn(StepIn):
    """A step to add to a workflow, with the edges that connect it (one write).

    Every write leaves a valid document, so a new graph step needs an edge into it (or
    it would be a second start) in the same request: ``edges`` are added with it.
    """

    edges: list[EdgeIn] = Field(
        default_factory=list,
        description='Edges added with the step, e.g. [{"from": "classify", "port": "true", '
        '"to": "<new step>"}].',
    )


class WorkflowDocumentIn(StrictIn):
    """A workflow document: the API's write format, ``workflow export``'s and ``import``'s."""

    name: str
    description: str = ""
    key: str | None = Field(
        default=None, description="Stable across versions; from name if absent."
    )
    input_schema: dict[str, Any] = Field(default_factory=dict)
    output: dict[str, Any] = Field(default_factory=dict)
    is_system: bool = False
    timeout_seconds: int = Field(default=3600, ge=1)
    steps: list[StepIn] = Field(default_factory=list)
    edges: list[EdgeIn] = Field(default_factory=list)


def document_dump(document: Schema) -> dict[str, Any]:
    """What the client sent, as a plain document (defaults are the services' to fill)."""
    return document.model_dump(by_alias=True, exclude_unset=True)


class EdgeOut(Schema):
    id: int
    source: str = Field(alias="from")
    port: str
    to: str


class EdgeCreatedOut(EdgeOut):
    workflow_id: int = Field(
        description="The draft the edge is in (a new one if a published was edited)."
    )


class WorkflowOut(Schema):
    id: int
    key: str
    version: int
    status: str
    name: str
    description: str
    is_system: bool
    created_at: datetime
    updated_at: datetime
    published_at: datetime | None


class WorkflowDetailOut(WorkflowOut):
    document: dict[str, Any] = Field(description="The workflow document (steps and edges by name).")
    edges: list[EdgeOut] = Field(description="The edges with their ids (DELETE …/edges/{id}).")


class WorkflowPage(Schema):
    data: list[WorkflowOut]
    next_cursor: str | None


class ValidateOut(Schema):
    valid: bool
    errors: list[ProblemOut]


# --- runs -----------------------------------------------------------------------------


class RunIn(StrictIn):
    input: dict[str, Any] = Field(default_factory=dict)
    test: bool = Field(default=False, description="Test-run a draft (execute permission).")
    subject: str = Field(default="", max_length=120)


class RunOut(Schema):
    id: int
    workflow_id: int
    status: str
    trigger: str
    is_test: bool
    subject: str
    input: dict[str, Any]
    output: JSON
    error: str
    prompt_tokens: int
    completion_tokens: int
    cost: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @staticmethod
    def resolve_cost(run: Any) -> str:
        return str(run.cost)


class StepRunOut(Schema):
    id: int
    step: str
    parent_id: int | None
    status: str
    input: JSON
    output: JSON
    port: str
    error_class: str
    error_message: str
    attempt: int
    prompt_tokens: int
    completion_tokens: int
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None

    @staticmethod
    def resolve_step(step_run: Any) -> str:
        return str(step_run.step.name)


class RunDetailOut(RunOut):
    step_runs: list[StepRunOut]

    @staticmethod
    def resolve_step_runs(run: Any) -> list[Any]:
        return list(run.step_runs.select_related("step").order_by("id"))


class RunPage(Schema):
    data: list[RunOut]
    next_cursor: str | None
