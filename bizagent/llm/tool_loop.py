"""Run a model's tool calls through Python callables until it gives a final answer.

Each round's analysis, tool calls and tool results are kept in the history of the turn
in progress (the Harmony spec keeps chain of thought until the turn ends); the number of
rounds is bounded so a model that keeps calling tools cannot spin forever.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bizagent.llm.errors import LLMError, LLMUnknownTool
from bizagent.llm.types import ChatClient, ChatRequest, ChatResult, HistoryMessage

ToolFunction = Callable[[dict[str, Any]], Any]


class LLMToolLoopExceeded(LLMError):
    error_class = "tool_loop_exceeded"
    summary = "the model kept calling tools past the round limit"


@dataclass
class ToolLoopResult:
    result: ChatResult
    rounds: int
    history: list[HistoryMessage] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0


def _tool_output(function: ToolFunction, arguments: dict[str, Any]) -> str:
    try:
        output = function(arguments)
    except Exception as exc:  # the model is told what went wrong, so it can recover
        return json.dumps({"error": f"{type(exc).__name__}: {exc}"}, ensure_ascii=False)
    if isinstance(output, str):
        return output
    return json.dumps(output, ensure_ascii=False, default=str)


def tool_loop_run(
    client: ChatClient,
    request: ChatRequest,
    tools: Mapping[str, ToolFunction],
    *,
    max_rounds: int = 8,
) -> ToolLoopResult:
    """Call the model, run each tool call it makes, feed the results back, until final."""
    offered = {tool.name for tool in request.tools}
    missing = offered - set(tools)
    if missing:
        raise ValueError(f"no Python callable for tools: {', '.join(sorted(missing))}")
    history = list(request.history)
    if request.user is not None:
        history.append(HistoryMessage(role="user", content=request.user))
    prompt_tokens = completion_tokens = 0
    for round_number in range(1, max_rounds + 1):
        result = client.complete(dataclasses.replace(request, history=tuple(history), user=None))
        prompt_tokens += result.usage.prompt_tokens
        completion_tokens += result.usage.completion_tokens
        if not result.tool_calls:
            return ToolLoopResult(result, round_number, history, prompt_tokens, completion_tokens)
        if result.analysis:
            history.append(
                HistoryMessage(role="assistant", content=result.analysis, channel="analysis")
            )
        for call in result.tool_calls:
            if call.name not in tools:  # the backend checks too; this guards a caller's mapping
                raise LLMUnknownTool(
                    f"no callable for {call.name!r}", model=client.model, url=client.base_url
                )
            history.append(
                HistoryMessage(
                    role="assistant",
                    content=call.raw_arguments,
                    channel="commentary",
                    recipient=f"functions.{call.name}",
                    content_type="<|constrain|>json",
                    call_id=call.call_id,
                )
            )
            history.append(
                HistoryMessage(
                    role="tool",
                    name=call.name,
                    content=_tool_output(tools[call.name], call.arguments),
                    call_id=call.call_id,
                )
            )
    raise LLMToolLoopExceeded(
        f"still calling tools after {max_rounds} rounds", model=client.model, url=client.base_url
    )
