"""A ``BlockContext`` for testing the agent block without the engine.

The model is real: a ``bizagent.llm`` client talking HTTP to the fake gpt-oss server.
The tools are Python functions with input schemas standing in for tool steps, and
``execute_step`` keeps the engine's contract (``workflows.blocks.base.BlockContext``):
arguments are validated against the tool's input schema (``BlockInputError``), the same
name with the same canonical arguments returns the recorded result without running the
tool again, and each call spends one tool call from ``budget``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bizagent.llm.structured import schema_errors
from bizagent.llm.types import ChatClient, ToolSpec
from workflows.blocks.base import BlockBudgetExhausted, BlockInputError, Budget


@dataclass
class ToolDouble:
    """A tool step: what it does, the arguments it takes, how the model sees it."""

    function: Callable[[dict[str, Any]], Any]
    input_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    description: str = ""


def _canonical(name: str, args: dict[str, Any]) -> str:
    return name + json.dumps(args, sort_keys=True, separators=(",", ":"))


class AgentTestContext:
    """What the engine would hand an agent step; records every tool call."""

    def __init__(
        self,
        *,
        llm: ChatClient,
        tools: dict[str, ToolDouble] | None = None,
        budget: Budget | None = None,
        seconds: float = 300.0,
    ) -> None:
        self.run_id = 1
        self.step_run_id = 7
        self.step_name = "agent"
        self.idempotency_key = "wf-1-7"
        self.is_system = False
        self.budget = budget or Budget()
        self.tools = tools or {}
        self._llm = llm
        self._seconds = seconds
        #: Every execute_step call, as (name, args), deduplicated ones included.
        self.requested: list[tuple[str, dict[str, Any]]] = []
        #: The calls that actually ran a tool.
        self.executed: list[tuple[str, dict[str, Any]]] = []
        self._recorded: dict[str, Any] = {}

    @property
    def llm(self) -> ChatClient:
        return self._llm

    @property
    def http(self) -> Any:
        raise AssertionError("the agent block must not use http itself")

    @property
    def memory(self) -> Any:
        raise AssertionError("the agent block must not use memory itself")

    @property
    def retriever(self) -> Any:
        raise AssertionError("the agent block must not use the retriever itself")

    def seconds_left(self) -> float:
        return self._seconds

    def tool_specs(self, names: list[str]) -> list[ToolSpec]:
        return [
            ToolSpec(name, self.tools[name].description, self.tools[name].input_schema)
            for name in names
        ]

    def execute_step(self, name: str, args: dict[str, Any]) -> Any:
        self.requested.append((name, args))
        tool = self.tools[name]
        errors = schema_errors(args, tool.input_schema)
        if errors:
            raise BlockInputError(f"arguments of {name}: " + "; ".join(errors))
        if self.budget.tool_calls is not None:
            if self.budget.tool_calls <= 0:
                raise BlockBudgetExhausted("tool calls budget exhausted")
            self.budget.tool_calls -= 1
        key = _canonical(name, args)
        if key in self._recorded:
            return self._recorded[key]
        output = tool.function(args)
        self.executed.append((name, args))
        self._recorded[key] = output
        return output

    def run_subflow(self, workflow: str | int, input: dict[str, Any]) -> Any:
        raise AssertionError("the agent block runs subflows only through tool steps")
