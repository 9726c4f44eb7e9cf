"""What every layer of the validator shares: the state of one validation and its helpers.

``_State`` holds what the layers learn as they go (the steps that passed the shape
checks, the edges between them, the tools the agents name) and records each problem;
each layer is a mixin over it, stacked by ``_Validator`` in ``workflows.graph``. The
helpers phrase what a message names (a value's kind, a path, a step).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from workflows.blocks import Block
from workflows.errors import Problem, problem


@dataclass(frozen=True)
class SubflowTarget:
    """What the validator needs to know about a workflow a subflow step runs."""

    #: The reference as the step wrote it (a key or an id).
    ref: str | int
    workflow_id: int
    input_schema: dict[str, Any]
    output: Any
    published: bool
    #: The target's key (shared by its versions); recursion is detected by it.
    key: str = ""


SubflowLookup = Callable[[str | int], SubflowTarget | None]


# --------------------------------------------------------------------------- helpers


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _join(*parts: str | int) -> str:
    return ".".join(str(part) for part in parts if part != "")


def _who(label: str | None, where: str) -> str:
    """How a message names a step: by name, or by position when it has none."""
    return f"step {label}" if label else f"step {where.removeprefix('steps.')}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _schema_problem(schema: Any) -> tuple[str, str] | None:
    """``(path inside the schema, message)`` when ``schema`` is not a valid JSON Schema."""
    if not isinstance(schema, dict | bool):
        return "", f"a JSON Schema is an object, not {_kind(schema)}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return _join(*exc.path), exc.message
    return None


# --------------------------------------------------------------------------- the validator's state


@dataclass
class _Step:
    """What the later layers need to know about one step that passed the shape checks."""

    index: int
    name: str
    block: Block | None
    config: dict[str, Any]
    tool_only: bool
    on_error: str
    input_schema: dict[str, Any] | None
    #: ``None`` when the config failed its schema and the block could not be asked.
    #: The config fits the block's schema and its own checks.
    config_ok: bool = False
    ports: tuple[str, ...] | None = None
    tools: list[str] | None = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"steps.{self.index}"


class _State:
    """One validation's document, catalogue and findings; the layers add to it."""

    def __init__(
        self,
        document: dict[str, Any],
        blocks: Mapping[str, Block],
        subflow_lookup: SubflowLookup | None,
    ) -> None:
        self.document = document
        self.blocks = blocks
        self.subflow_lookup = subflow_lookup
        self.problems: list[Problem] = []
        self.steps: dict[str, _Step] = {}
        self.order: list[str] = []
        self.succ: dict[str, list[str]] = {}
        self.pred: dict[str, list[str]] = {}
        self.edge_index: dict[tuple[str, str], int] = {}
        self.graph_trusted = True
        #: Tool step name -> the steps that name it as a tool.
        self.users: dict[str, list[str]] = {}
        self.is_system = document.get("is_system") is True
        self.workflow_input_schema: Any = document.get("input_schema", {"type": "object"})

    def add(self, code: str, message: str, *, step: str | None = None, path: str = "") -> None:
        self.problems.append(problem(code, message, step=step, path=path))
