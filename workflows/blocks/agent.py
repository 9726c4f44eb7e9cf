"""The ``agent`` block: gpt-oss in a loop whose tools are other steps of the workflow.

Each round calls the model; each tool call it makes (``functions.NAME`` on the
commentary channel) runs the step ``NAME`` through ``ctx.execute_step`` and goes back to
the model as a Harmony tool message, until the model answers on the ``final`` channel.

Why it is shaped like this:

- The developer message (instructions, the tools as configured, the output schema) is
  the same bytes on every call of the same agent, so the server's prefix cache holds;
  per-run data lives only in the user message and the turn's history.
- Mistakes the model can fix (a tool it was not given, arguments that break the tool's
  input schema) are answered as tool results with an error, and counted as tool calls,
  so a confused model recovers or runs out of budget, but never loops for free.
- Every bound (model calls, tool calls, tokens, identical calls) is checked against both
  the step's config and what the enclosing budget (``ctx.budget``, the parent's
  remainder) still allows; running out is ``BlockBudgetExhausted`` naming which bound and
  the numbers, never a success.
- The output is the parsed ``final`` text (or the validated object with
  ``output_schema``): never the analysis channel, never raw tokens.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any, cast

from bizagent.llm.errors import (
    LLMError,
    LLMMalformedOutput,
    LLMSchemaViolation,
    LLMServerError,
    LLMTimeout,
    LLMTruncatedOutput,
    LLMUnknownTool,
    LLMUnreachable,
)
from bizagent.llm.structured import schema_check, schema_errors
from bizagent.llm.types import (
    ChatRequest,
    ChatResult,
    HistoryMessage,
    ReasoningLevel,
    ResponseFormat,
    ToolSpec,
    Usage,
)
from workflows.blocks.base import (
    Block,
    BlockBudgetExhausted,
    BlockConfigError,
    BlockContext,
    BlockError,
    BlockInputError,
    BlockModelError,
    BlockResult,
    BlockSchemaError,
    BlockTimeout,
    BlockUpstreamError,
    block_register,
)
from workflows.templates import harmony_neutralise

DEFAULT_MAX_ITERATIONS = 8
DEFAULT_MAX_TOOL_CALLS = 16
DEFAULT_MAX_IDENTICAL_CALLS = 2
#: Completion tokens asked for per call when no token cap is nearer.
COMPLETION_TOKENS = 4096
#: How much of a call's arguments an error message quotes.
ARGUMENTS_SHOWN = 200
RESPONSE_FORMAT_NAME = "agent_answer"

_STEP_NAME = r"^[a-z][a-z0-9_]{0,63}$"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "instructions": {"type": "string", "description": "The developer message."},
        "prompt": {"type": "string", "description": "The user message (per-run data)."},
        "tools": {
            "type": "array",
            "items": {"type": "string", "pattern": _STEP_NAME},
            "uniqueItems": True,
            "description": "Steps of this workflow the model may call, in the order shown.",
        },
        "max_iterations": {"type": "integer", "minimum": 1, "maximum": 100},
        "max_tool_calls": {"type": "integer", "minimum": 0, "maximum": 1000},
        "max_identical_calls": {"type": "integer", "minimum": 1, "maximum": 100},
        "max_tokens": {
            "type": "integer",
            "minimum": 1,
            "description": "Total tokens (prompt and completion) over all the agent's calls.",
        },
        "reasoning": {"enum": ["low", "medium", "high"]},
        "output_schema": {
            "type": "object",
            "description": "JSON Schema of a structured final answer (one repair turn).",
        },
    },
    "required": ["instructions", "prompt"],
    "additionalProperties": False,
}

OUTPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "data": {},
        "iterations": {"type": "integer"},
        "tool_calls": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"tool": {"type": "string"}, "arguments": {"type": "object"}},
                "required": ["tool", "arguments"],
            },
        },
        "stopped": {"const": "final"},
    },
    "required": ["iterations", "tool_calls", "stopped"],
}


@dataclass(frozen=True)
class AgentSettings:
    """The step's config, checked and with its defaults filled."""

    instructions: str
    prompt: str
    tools: tuple[str, ...] = ()
    max_iterations: int = DEFAULT_MAX_ITERATIONS
    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS
    max_identical_calls: int = DEFAULT_MAX_IDENTICAL_CALLS
    max_tokens: int | None = None
    reasoning: ReasoningLevel = "medium"
    output_schema: dict[str, Any] | None = None

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> AgentSettings:
        """Checked against the config schema: a wrong value names its path."""
        errors = schema_errors(config, CONFIG_SCHEMA)
        if errors:
            raise BlockConfigError("agent config: " + "; ".join(errors[:10]))
        output_schema = config.get("output_schema")
        if output_schema is not None:
            try:
                schema_check(output_schema)
            except ValueError as exc:
                raise BlockConfigError(f"agent config: output_schema: {exc}") from exc
        return cls(
            instructions=config["instructions"],
            prompt=config["prompt"],
            tools=tuple(config.get("tools") or ()),
            max_iterations=config.get("max_iterations", DEFAULT_MAX_ITERATIONS),
            max_tool_calls=config.get("max_tool_calls", DEFAULT_MAX_TOOL_CALLS),
            max_identical_calls=config.get("max_identical_calls", DEFAULT_MAX_IDENTICAL_CALLS),
            max_tokens=config.get("max_tokens"),
            reasoning=cast("ReasoningLevel", config.get("reasoning", "medium")),
            output_schema=output_schema,
        )


def call_signature(name: str, arguments: Any) -> str:
    """``name({...})`` with the arguments in canonical JSON: what "identical" means."""
    canonical = json.dumps(arguments, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if len(canonical) > ARGUMENTS_SHOWN:
        canonical = canonical[:ARGUMENTS_SHOWN] + "…"
    return f"{name}({canonical})"


def _tool_content(value: Any) -> str:
    """A tool result as the model reads it: JSON text, Harmony markers made inert.

    Tool output is data from anywhere (a web page, a document): it must never be able to
    close the tool message and speak as the assistant or the developer.
    """
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return harmony_neutralise(text)


def _error_content(message: str) -> str:
    return _tool_content({"error": message})


def block_error_from_llm(exc: LLMError) -> BlockError:
    """The step error for a model failure the loop cannot repair."""
    if isinstance(exc, LLMUnreachable | LLMServerError):
        return BlockUpstreamError(str(exc))
    if isinstance(exc, LLMTimeout):
        return BlockTimeout(str(exc))
    if isinstance(exc, LLMTruncatedOutput):
        return BlockModelError(f"the model's answer was truncated: {exc}")
    if isinstance(exc, LLMMalformedOutput):
        return BlockModelError(f"the model's answer was malformed: {exc}")
    return BlockModelError(str(exc))


class _AgentLoop:
    """One execution of an agent step: its history, its spend, its bounds."""

    def __init__(self, settings: AgentSettings, ctx: BlockContext, specs: list[ToolSpec]) -> None:
        self.settings = settings
        self.ctx = ctx
        self.specs = tuple(specs)
        self.tool_names = frozenset(spec.name for spec in specs)
        self.history: list[HistoryMessage] = [HistoryMessage(role="user", content=settings.prompt)]
        self.usage = Usage()
        self.iterations = 0
        self.tool_calls_made = 0
        self.executed: list[dict[str, Any]] = []
        self.identical: Counter[str] = Counter()
        self.repaired = False
        # What the enclosing budget allowed when the agent started, for the messages.
        self.budget_start = dataclasses.replace(ctx.budget)
        self.response_format = (
            ResponseFormat(
                name=RESPONSE_FORMAT_NAME,
                schema=settings.output_schema,
                description="Answer with a JSON object that matches this schema.",
            )
            if settings.output_schema is not None
            else None
        )

    # --- bounds -------------------------------------------------------------------
    def _exhausted(self, what: str, used: int, limit: int, source: str) -> BlockBudgetExhausted:
        return BlockBudgetExhausted(
            f"{what} budget exhausted: used {used} of {limit} ({source}) without a final answer"
        )

    def _check_iterations(self) -> None:
        if self.iterations >= self.settings.max_iterations:
            raise self._exhausted(
                "iterations", self.iterations, self.settings.max_iterations, "max_iterations"
            )
        left = self.ctx.budget.iterations
        if left is not None and left <= 0:
            start = self.budget_start.iterations or 0
            raise self._exhausted(
                "iterations", self.iterations, start, "the enclosing budget's iterations"
            )

    def _check_tool_calls(self) -> None:
        if self.tool_calls_made >= self.settings.max_tool_calls:
            raise self._exhausted(
                "tool calls", self.tool_calls_made, self.settings.max_tool_calls, "max_tool_calls"
            )
        left = self.ctx.budget.tool_calls
        if left is not None and left <= 0:
            start = self.budget_start.tool_calls or 0
            raise self._exhausted(
                "tool calls", self.tool_calls_made, start, "the enclosing budget's tool calls"
            )

    def _tokens_left(self) -> tuple[int, str, int] | None:
        """The nearest token bound: (tokens left, which bound, its size), or None."""
        bounds: list[tuple[int, str, int]] = []
        cap = self.settings.max_tokens
        if cap is not None:
            bounds.append((cap - self.usage.total_tokens, "max_tokens", cap))
        if self.ctx.budget.tokens is not None:
            start = self.budget_start.tokens or 0
            bounds.append((self.ctx.budget.tokens, "the enclosing budget's tokens", start))
        return min(bounds) if bounds else None

    def _check_tokens(self) -> None:
        nearest = self._tokens_left()
        if nearest is not None and nearest[0] <= 0:
            _, source, limit = nearest
            raise self._exhausted("tokens", self.usage.total_tokens, limit, source)

    def _spend(self, usage: Usage | None) -> None:
        """Count one model call and what it cost, here and in the enclosing budget."""
        self.iterations += 1
        budget = self.ctx.budget
        if budget.iterations is not None:
            budget.iterations = max(0, budget.iterations - 1)
        if usage is None:
            return
        self.usage = self.usage + usage
        if budget.tokens is not None:
            # Below zero is what overspending means; the stored figure stays readable.
            over = budget.tokens - usage.total_tokens
            budget.tokens = max(0, over)
            if over < 0:
                raise self._exhausted(
                    "tokens",
                    self.usage.total_tokens,
                    self.budget_start.tokens or 0,
                    "the enclosing budget's tokens",
                )
        cap = self.settings.max_tokens
        if cap is not None and self.usage.total_tokens > cap:
            raise self._exhausted("tokens", self.usage.total_tokens, cap, "max_tokens")

    def _spend_tool_call(self, signature: str, *, through_engine: bool) -> None:
        """Count a tool call and refuse one repeated beyond ``max_identical_calls``."""
        self._check_tool_calls()
        self.identical[signature] += 1
        times = self.identical[signature]
        if times > self.settings.max_identical_calls:
            raise BlockBudgetExhausted(
                f"identical calls budget exhausted: the model repeated {signature} {times} "
                f"times (max_identical_calls={self.settings.max_identical_calls})"
            )
        self.tool_calls_made += 1
        # execute_step spends the enclosing budget's tool call itself (it hands the rest
        # to the child); a call answered here never reaches it, so it is spent here.
        budget = self.ctx.budget
        if not through_engine and budget.tool_calls is not None:
            budget.tool_calls = max(0, budget.tool_calls - 1)

    # --- the loop -----------------------------------------------------------------
    def _request(self) -> ChatRequest:
        nearest = self._tokens_left()
        max_tokens = COMPLETION_TOKENS if nearest is None else min(COMPLETION_TOKENS, nearest[0])
        return ChatRequest(
            instructions=self.settings.instructions,
            history=tuple(self.history),
            tools=self.specs,
            response_format=self.response_format,
            reasoning=self.settings.reasoning,
            max_tokens=max_tokens,
        )

    def _call_model(self) -> ChatResult | None:
        """One model call; None when the answer was a mistake already fed back to it."""
        self._check_iterations()
        self._check_tokens()
        if self.ctx.seconds_left() <= 0:
            raise BlockTimeout(
                f"the step ran out of time after {self.iterations} model calls "
                f"and {self.tool_calls_made} tool calls"
            )
        request = self._request()
        try:
            result = self.ctx.llm.complete(request)
        except LLMUnknownTool as exc:
            self._spend(exc.usage)
            offered = ", ".join(self.settings.tools) or "none"
            self._answer_mistake(
                exc.tool,
                exc.raw,
                f"there is no tool {exc.tool!r}; the tools you may call are: {offered}",
            )
            return None
        except LLMSchemaViolation as exc:
            self._spend(exc.usage)
            if exc.tool:
                self._answer_mistake(
                    exc.tool,
                    exc.raw,
                    f"the arguments do not match the tool's input schema: {exc.detail}",
                )
            else:
                self._repair(exc)
            return None
        except LLMError as exc:
            # An answer cut short because we capped it at the tokens left is exhaustion,
            # not a model error: the prompt plus that many completion tokens pass the
            # bound, so ``_spend`` raises it first.
            self._spend(exc.usage)
            raise block_error_from_llm(exc) from exc
        self._spend(result.usage)
        return result

    def _answer_mistake(self, tool: str, raw: str, message: str) -> None:
        """Hand the model its own bad call back with the error, as the call's result."""
        name = tool or "unknown"
        try:
            arguments: Any = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            arguments = raw
        self._spend_tool_call(call_signature(name, arguments), through_engine=False)
        self._record_call(name, raw, _error_content(message))

    def _repair(self, exc: LLMSchemaViolation) -> None:
        """One more turn for a final answer that broke ``output_schema``; then it fails."""
        if self.repaired:
            raise BlockSchemaError(
                f"the final answer does not match output_schema after a repair turn: {exc.detail}"
            ) from exc
        self.repaired = True
        self.history.append(
            HistoryMessage(
                role="assistant", content=harmony_neutralise(exc.raw or "(empty)"), channel="final"
            )
        )
        self.history.append(
            HistoryMessage(
                role="user",
                content=(
                    "Your answer does not match the required JSON Schema "
                    f"({harmony_neutralise(exc.detail)}). Answer again with only the JSON "
                    "object, matching the schema exactly."
                ),
            )
        )

    def _record_call(self, name: str, raw: str, content: str) -> None:
        call_id = f"call_{self.tool_calls_made}"
        self.history.append(
            HistoryMessage(
                role="assistant",
                content=harmony_neutralise(raw),
                channel="commentary",
                recipient=f"functions.{name}",
                content_type="<|constrain|>json",
                call_id=call_id,
            )
        )
        self.history.append(
            HistoryMessage(role="tool", name=name, content=content, call_id=call_id)
        )

    def _run_tools(self, result: ChatResult) -> None:
        if result.analysis:
            # The turn is still in progress: its chain of thought stays (Harmony spec).
            self.history.append(
                HistoryMessage(
                    role="assistant",
                    content=harmony_neutralise(result.analysis),
                    channel="analysis",
                )
            )
        for call in result.tool_calls:
            self._spend_tool_call(call_signature(call.name, call.arguments), through_engine=True)
            try:
                output = self.ctx.execute_step(call.name, call.arguments)
            except BlockBudgetExhausted:
                raise
            except BlockInputError as exc:
                content = _error_content(f"the arguments were refused: {exc}")
            except BlockError as exc:
                # A tool that failed is news the model can act on (try another way,
                # or say so in its answer); its budget still bounds the attempts.
                content = _error_content(f"the tool failed ({exc.error_class}): {exc}")
            else:
                content = _tool_content(output)
                self.executed.append({"tool": call.name, "arguments": call.arguments})
            self._record_call(call.name, call.raw_arguments, content)

    def run(self) -> BlockResult:
        try:
            while True:
                result = self._call_model()
                if result is None:
                    continue
                if result.tool_calls:
                    # A model on its last call that still asks for tools will not see
                    # their results: stop before running them (they may have side effects).
                    self._check_iterations()
                    self._run_tools(result)
                    continue
                return self._final(result)
        except BlockError as exc:
            # A failed agent still spent tokens; the engine records them from here
            # (``getattr(exc, "prompt_tokens", 0)``) so budgets see what was billed.
            exc.prompt_tokens = self.usage.prompt_tokens  # type: ignore[attr-defined]
            exc.completion_tokens = self.usage.completion_tokens  # type: ignore[attr-defined]
            raise

    def _final(self, result: ChatResult) -> BlockResult:
        output: dict[str, Any]
        if self.settings.output_schema is not None:
            output = {"data": result.parsed}
        else:
            output = {"text": result.final}
        output.update(iterations=self.iterations, tool_calls=list(self.executed), stopped="final")
        return BlockResult(
            output=output,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
        )


@block_register
class AgentBlock(Block):
    slug = "agent"
    name = "Agent"
    category = "ai"
    description = (
        "gpt-oss in a loop: it may call other steps of this workflow as tools, within "
        "bounds on model calls, tool calls, identical calls and tokens, until it answers."
    )
    config_schema = CONFIG_SCHEMA
    output_schema = OUTPUT_SCHEMA
    side_effects = False
    can_be_tool = True
    prompt_keys = ("instructions", "prompt")

    def tool_names(self, config: dict[str, Any]) -> list[str]:
        tools = config.get("tools") or []
        return [name for name in tools if isinstance(name, str)]

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        schema = config.get("output_schema")
        if isinstance(schema, dict):
            try:
                schema_check(schema)
            except ValueError as exc:
                return [("output_schema", str(exc))]
        return []

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        settings = AgentSettings.from_config(config)
        specs = ctx.tool_specs(list(settings.tools)) if settings.tools else []
        return _AgentLoop(settings, ctx, specs).run()
