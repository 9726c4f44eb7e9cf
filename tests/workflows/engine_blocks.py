"""Test-only blocks for the engine's tests, and a builder of workflow rows.

Importing this module registers them: ``test-echo`` (returns its ``value``, leaves by
its ``port``, reports ``tokens``/``cost``), ``test-fail`` (fails its first ``times``
attempts with the ``error`` class named), ``test-sleep`` (sleeps, appending a line to
``log`` first), ``test-count`` (a side effect: appends a line to ``path``), ``test-hook``
(calls a test's callback mid-step), ``test-tools`` (calls ``ctx.execute_step``) and
``test-subflow`` (calls ``ctx.run_subflow``). A stand-in ``set-variables`` of the real
block's shape is registered only when the real one is not installed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from workflows.blocks.base import (
    Block,
    BlockConfigError,
    BlockContext,
    BlockError,
    BlockResult,
    block_get,
    block_register,
)
from workflows.models import Edge, Step, Workflow

#: Attempts seen per idempotency key (``test-fail``) and runs per step (every block).
ATTEMPTS: Counter[str] = Counter()
#: ``test-hook`` callbacks by name: ``fn(ctx)`` runs in the middle of the step.
HOOKS: dict[str, Callable[[BlockContext], Any]] = {}


def _classes() -> dict[str, type[BlockError]]:
    found: dict[str, type[BlockError]] = {}
    pending: list[type[BlockError]] = [BlockError]
    while pending:
        cls = pending.pop()
        found[cls.error_class] = cls
        pending.extend(cls.__subclasses__())
    return found


@block_register
class EchoBlock(Block):
    slug = "test-echo"
    name = "Echo (tests)"
    category = "test"
    description = "Returns its value."
    input_schema = {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    }

    def ports(self, config: dict[str, Any]) -> tuple[str, ...]:
        return ("out", "true", "false")

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        return BlockResult(
            output=config.get("value", input),
            port=config.get("port", "out"),
            prompt_tokens=int(config.get("tokens", 0)),
            completion_tokens=int(config.get("tokens", 0)),
            cost=Decimal(str(config.get("cost", "0"))),
        )


@block_register
class FailBlock(Block):
    slug = "test-fail"
    name = "Fail N times (tests)"
    category = "test"
    description = "Fails its first attempts."

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[ctx.idempotency_key] += 1
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        if ATTEMPTS[ctx.idempotency_key] <= int(config.get("times", 1)):
            error = _classes()[config.get("error", "upstream")]
            raise error(f"failure {ATTEMPTS[ctx.idempotency_key]} of {ctx.step_name}")
        return BlockResult(output={"attempts": ATTEMPTS[ctx.idempotency_key]})


@block_register
class SideEffectFailBlock(FailBlock):
    slug = "test-fail-effect"
    name = "Fail N times, with side effects (tests)"
    side_effects = True


@block_register
class SleepBlock(Block):
    slug = "test-sleep"
    name = "Sleep (tests)"
    category = "test"
    description = "Sleeps, after noting that it started."

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        if config.get("log"):
            with Path(config["log"]).open("a") as log:
                log.write(f"start {ctx.step_name}\n")
        time.sleep(float(config.get("seconds", 1)))
        return BlockResult(output={"slept": config.get("seconds", 1)})


@block_register
class CountBlock(Block):
    slug = "test-count"
    name = "Side-effect counter (tests)"
    category = "test"
    description = "Appends a line to a file: a side effect a test can count."
    side_effects = True

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        path = Path(config["path"])
        with path.open("a") as out:
            out.write(f"{ctx.step_name} {ctx.idempotency_key}\n")
        return BlockResult(output={"count": len(path.read_text().splitlines())})


@block_register
class HookBlock(Block):
    slug = "test-hook"
    name = "Hook (tests)"
    category = "test"
    description = "Calls a test's callback in the middle of the step."

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        return BlockResult(output=HOOKS[config["hook"]](ctx))


@block_register
class ToolsBlock(Block):
    slug = "test-tools"
    name = "Tool caller (tests)"
    category = "test"
    description = "Calls its tool steps through ctx.execute_step."

    def tool_names(self, config: dict[str, Any]) -> list[str]:
        return [call["name"] for call in config.get("calls", [])]

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        return BlockResult(
            output=[ctx.execute_step(call["name"], call["args"]) for call in config["calls"]]
        )


@block_register
class SubflowCallBlock(Block):
    slug = "test-subflow"
    name = "Subflow caller (tests)"
    category = "test"
    description = "Runs a workflow through ctx.run_subflow."

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        ATTEMPTS[f"run:{ctx.step_name}"] += 1
        return BlockResult(output=ctx.run_subflow(config["workflow"], config.get("input", {})))


if block_get("set-variables") is None:

    @block_register
    class SetVariablesStandIn(Block):
        slug = "set-variables"
        name = "Set variables (stand-in)"
        category = "data"
        description = "Stand-in until the real block is installed."

        def run(
            self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
        ) -> BlockResult:
            out = {}
            for variable in config.get("variables", []):
                if variable.get("type") == "number":
                    try:
                        out[variable["name"]] = float(variable["value"])
                    except (TypeError, ValueError):
                        raise BlockConfigError(f"variable {variable['name']}") from None
                else:
                    out[variable["name"]] = variable["value"]
            return BlockResult(output=out)


def workflow_build(
    *,
    steps: list[dict[str, Any]],
    edges: list[tuple[str, str, str]] = (),  # type: ignore[assignment]
    key: str = "wf",
    status: str = Workflow.Status.PUBLISHED,
    output: Any = None,
    input_schema: dict[str, Any] | None = None,
    timeout_seconds: int = 600,
    version: int = 1,
) -> Workflow:
    """Workflow rows straight from a compact description: ``steps`` are Step fields
    (``name`` and ``block`` at least), ``edges`` are ``(from, port, to)``."""
    workflow = Workflow.objects.create(
        key=key,
        version=version,
        name=key,
        status=status,
        output=output or {},
        input_schema=input_schema or {},
        timeout_seconds=timeout_seconds,
    )
    by_name = {}
    for position, fields in enumerate(steps):
        by_name[fields["name"]] = Step.objects.create(
            workflow=workflow, position=position, **fields
        )
    for source, port, target in edges:
        Edge.objects.create(
            workflow=workflow, source=by_name[source], port=port, target=by_name[target]
        )
    return workflow


def run_drain(run: Any, *, limit: int = 100) -> Any:
    """Play the workers: execute the run's pending graph steps until none is left."""
    from workflows.models import Run, StepRun
    from workflows.services.execution import step_run_execute

    for _ in range(limit):
        pending = (
            StepRun.objects.filter(
                run=run,
                parent__isnull=True,
                status=StepRun.Status.PENDING,
                run__status__in=Run.OPEN_STATUSES,
            )
            .order_by("id")
            .first()
        )
        if pending is None:
            break
        step_run_execute(step_run_id=pending.pk)
    run.refresh_from_db()
    return run
