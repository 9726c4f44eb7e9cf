"""The engine's ``BlockContext``: what a running block is given, and nothing more.

Blocks never touch the ORM. The context hands them the model client
(``bizagent.llm.client.llm_client()``), the outbound HTTP client, the memory store and
the retriever (from a small provider registry the http, memory and rag modules fill at
app ready), their tool steps as ``ToolSpec``s, and ``execute_step`` / ``run_subflow``,
which the executor implements (passed in as a ``ChildRunner`` so this module does not
import the executor, and the executor imports this one).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.utils import timezone

from bizagent.llm.types import ChatClient, ToolSpec
from workflows.blocks.base import (
    JSON,
    BlockBudgetExhausted,
    BlockConfigError,
    BlockInputError,
    Budget,
    MemoryStore,
    OutboundHTTP,
    Retriever,
    block_get,
)
from workflows.models import Run, Step, StepRun
from workflows.services.runs import input_problems

#: How deep tool calls may nest (agent → tool → subflow → agent …) when no budget says.
MAX_TOOL_DEPTH = 5

#: ``ctx`` keys whose values are secrets: scrubbed from everything stored.
SECRET_CTX_KEYS = ("internal_api_token",)

Factory = Callable[["EngineContext"], Any]
_PROVIDERS: dict[str, Factory] = {}

#: What each provider is called in the error a block gets when it is missing.
_LABELS = {"http": "http client", "memory": "memory store", "retriever": "retriever"}


def context_provider_register(name: str, factory: Factory) -> None:
    """Make ``factory(ctx)`` the provider of ``name``: ``http``, ``memory``,
    ``retriever``, or ``ctx.<key>`` for a template ``ctx`` value such as
    ``ctx.internal_api_token``. Registering again replaces (app ready may run twice)."""
    _PROVIDERS[name] = factory


def context_provider_unregister(name: str) -> None:
    _PROVIDERS.pop(name, None)


def call_key(name: str, args: dict[str, Any]) -> str:
    """sha256 of the tool name and its canonical JSON arguments: the same call is one row."""
    canonical = json.dumps(args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{name}\n{canonical}".encode()).hexdigest()


def run_ctx_values(*, run: Run) -> dict[str, Any]:
    """The ``ctx`` keys that belong to the run rather than to one step: what a step's
    templates see with the step's own keys added, and what the workflow's output mapping
    sees (no step keys, no secrets: the output is stored and returned to callers)."""
    now = timezone.now()
    workflow = run.workflow
    return {
        "run_id": run.pk,
        "workflow_id": workflow.pk,
        "workflow_key": workflow.key,
        "workflow_version": workflow.version,
        "now": now.isoformat(),
        "today": timezone.localdate(now).isoformat(),
        "is_test": run.is_test,
    }


class ChildRunner(Protocol):
    """What the executor does for ``execute_step`` and ``run_subflow``."""

    def tool_call(
        self, ctx: EngineContext, *, step: Step, args: dict[str, Any], key: str, budget: Budget
    ) -> JSON: ...

    def subflow(
        self, ctx: EngineContext, *, workflow: str | int, input: dict[str, Any], budget: Budget
    ) -> JSON: ...


@dataclass
class EngineContext:
    """The ``BlockContext`` the executor builds for one attempt of one step run."""

    run: Run
    step_run: StepRun
    steps_by_name: dict[str, Step]
    runner: ChildRunner
    owner: str
    #: ``time.monotonic()`` by which the step must be done.
    deadline: float
    budget: Budget = field(default_factory=Budget)
    _llm: ChatClient | None = None
    _ctx_values: dict[str, Any] | None = None

    # Identity, as the ``BlockContext`` protocol names it (filled from the rows).
    run_id: int = field(init=False)
    step_run_id: int = field(init=False)
    step_name: str = field(init=False)
    #: Stable per StepRun: outbound calls send it as ``Idempotency-Key``.
    idempotency_key: str = field(init=False)
    is_system: bool = field(init=False)

    def __post_init__(self) -> None:
        self.run_id = self.run.pk
        self.step_run_id = self.step_run.pk
        self.step_name = self.step_run.step.name
        self.idempotency_key = self.step_run.idempotency_key
        self.is_system = self.run.workflow.is_system

    # -- clients --------------------------------------------------------------------
    @property
    def llm(self) -> ChatClient:
        if self._llm is None:
            from bizagent.llm.client import llm_client

            self._llm = llm_client()
        return self._llm

    def _provided(self, name: str) -> Any:
        factory = _PROVIDERS.get(name)
        if factory is None:
            raise BlockConfigError(f"the {_LABELS.get(name, name)} is not configured")
        return factory(self)

    @property
    def http(self) -> OutboundHTTP:
        return self._provided("http")

    @property
    def memory(self) -> MemoryStore:
        return self._provided("memory")

    @property
    def retriever(self) -> Retriever:
        return self._provided("retriever")

    def seconds_left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    # -- template ctx ---------------------------------------------------------------
    def ctx_values(self) -> dict[str, Any]:
        """The whitelisted ``ctx`` of templates (``workflows.templates.CTX_KEYS``)."""
        if self._ctx_values is None:
            values: dict[str, Any] = {
                **run_ctx_values(run=self.run),
                "step_name": self.step_name,
                "idempotency_key": self.idempotency_key,
            }
            for name, factory in _PROVIDERS.items():
                if name.startswith("ctx."):
                    # None: not offered to this run (a user run gets no internal token),
                    # so a template naming it is an error, never a silent null.
                    value = factory(self)
                    if value is not None:
                        values[name.removeprefix("ctx.")] = value
            self._ctx_values = values
        return self._ctx_values

    def secrets(self) -> list[str]:
        """Secret values this context handed out: never stored, logged or shown."""
        if self._ctx_values is None:
            return []
        return [
            str(self._ctx_values[key])
            for key in SECRET_CTX_KEYS
            if self._ctx_values.get(key) not in (None, "")
        ]

    # -- tools ----------------------------------------------------------------------
    def _tool_step(self, name: str) -> Step:
        step = self.steps_by_name.get(name)
        block = block_get(step.block) if step is not None else None
        if step is None or block is None:
            raise BlockConfigError(f"no step named {name!r} in this workflow")
        if not block.can_be_tool:
            raise BlockConfigError(f"step {name!r} ({step.block}) cannot be a tool")
        return step

    def tool_specs(self, names: list[str]) -> list[ToolSpec]:
        specs = []
        for name in names:
            step = self._tool_step(name)
            block = block_get(step.block)
            assert block is not None  # _tool_step checked
            specs.append(
                ToolSpec(
                    name=name,
                    description=step.description or block.description,
                    parameters=step.input_schema or block.input_schema,
                )
            )
        return specs

    def _child_budget(self, *, spend_tool_call: bool) -> Budget:
        """Spend one tool call (persisted on this step run, so a retry remembers) and
        hand what is left, one level less deep, to the child."""
        budget = self.budget
        depth = MAX_TOOL_DEPTH if budget.depth is None else budget.depth
        if depth <= 0:
            raise BlockBudgetExhausted(
                f"nesting depth exhausted: {self.step_name} may not call deeper"
            )
        if spend_tool_call:
            if budget.tool_calls is not None and budget.tool_calls <= 0:
                raise BlockBudgetExhausted(f"{self.step_name} has no tool calls left")
            if budget.tool_calls is not None:
                budget.tool_calls -= 1
            self.budget_save()
        return Budget(
            iterations=None,
            tool_calls=budget.tool_calls,
            tokens=budget.tokens,
            depth=depth - 1,
        )

    def budget_absorb(self, left: Budget) -> None:
        """A child was handed this step's remainder; what it left is all this step has
        left too (a nested agent's tokens count against every budget above it)."""
        for name in ("tool_calls", "tokens"):
            mine, theirs = getattr(self.budget, name), getattr(left, name)
            if mine is not None and theirs is not None and theirs < mine:
                setattr(self.budget, name, theirs)
        self.budget_save()

    def budget_save(self) -> None:
        """Persist what is left of the budget on the step run (only while ours)."""
        StepRun.objects.filter(pk=self.step_run.pk, lease_owner=self.owner).update(
            budget=self.budget.to_json()
        )

    def execute_step(self, name: str, args: dict[str, Any]) -> JSON:
        step = self._tool_step(name)
        block = block_get(step.block)
        assert block is not None
        if not isinstance(args, dict):
            raise BlockInputError(f"{name}: arguments must be a JSON object")
        problems = input_problems(schema=step.input_schema or block.input_schema, value=args)
        if problems:
            raise BlockInputError(
                f"{name}: the arguments do not fit its input schema: "
                + "; ".join(p["message"] for p in problems)
            )
        budget = self._child_budget(spend_tool_call=True)
        return self.runner.tool_call(
            self, step=step, args=args, key=call_key(name, args), budget=budget
        )

    def run_subflow(self, workflow: str | int, input: dict[str, Any]) -> JSON:
        budget = self._child_budget(spend_tool_call=False)
        return self.runner.subflow(self, workflow=workflow, input=input, budget=budget)
