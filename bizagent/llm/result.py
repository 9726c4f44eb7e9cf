"""Turn what a backend got back into a checked ``ChatResult``.

All three backends end here, so tool calls and structured output are validated the same
way whichever server answered.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from openai_harmony import Message, Role

from bizagent.llm.errors import (
    LLMError,
    LLMMalformedOutput,
    LLMSchemaViolation,
    LLMUnknownTool,
)
from bizagent.llm.structured import (
    StructuredOutputError,
    schema_errors,
    schema_normalise,
    structured_parse_with_notes,
)
from bizagent.llm.types import ChatRequest, ChatResult, ToolCall, Usage

FUNCTIONS_PREFIX = "functions."


@dataclass(frozen=True)
class RawToolCall:
    name: str
    arguments: str
    call_id: str = ""


@dataclass(frozen=True)
class RawAnswer:
    """The channels of one assistant turn, before any checking."""

    final: str
    analysis: str
    commentary: str
    tool_calls: tuple[RawToolCall, ...]


def _count(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def usage_openai(body: Any, *, prompt_default: int = 0, completion_default: int = 0) -> Usage:
    """The ``usage`` of an OpenAI-shaped answer (vLLM, OpenAI-compatible), read leniently:
    a garbled answer was still billed, and its figures must not raise."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return Usage(prompt_tokens=prompt_default, completion_tokens=completion_default)
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=_count(usage.get("prompt_tokens", prompt_default)),
        completion_tokens=_count(usage.get("completion_tokens", completion_default)),
        cached_tokens=_count(cached) if cached is not None else None,
    )


def usage_ollama(body: Any) -> Usage:
    """Ollama's eval counts as a ``Usage``."""
    if not isinstance(body, dict):
        return Usage()
    return Usage(
        prompt_tokens=_count(body.get("prompt_eval_count")),
        completion_tokens=_count(body.get("eval_count")),
    )


@contextmanager
def usage_billed(usage: Usage) -> Iterator[None]:
    """Attach ``usage`` to any model failure raised while reading an answer.

    The server billed those tokens whether or not its answer was usable (truncated, not
    Harmony, against the schema, an unknown tool); without this they were dropped with
    the exception and the daily budget never saw them.
    """
    try:
        yield
    except LLMError as exc:
        if exc.usage is None:
            exc.usage = usage
        raise


def _text(message: Message) -> str:
    return "".join(getattr(part, "text", "") for part in message.content)


def answer_from_harmony(messages: list[Message]) -> RawAnswer:
    """Split parsed Harmony messages into final, analysis, commentary and tool calls."""
    finals: list[str] = []
    analysis: list[str] = []
    commentary: list[str] = []
    calls: list[RawToolCall] = []
    for message in messages:
        if message.author.role != Role.ASSISTANT:
            continue
        text = _text(message)
        recipient = message.recipient or ""
        if recipient and recipient != "assistant":
            name = recipient.removeprefix(FUNCTIONS_PREFIX)
            calls.append(RawToolCall(name=name, arguments=text, call_id=f"call_{len(calls)}"))
        elif message.channel == "analysis":
            analysis.append(text)
        elif message.channel == "commentary":
            commentary.append(text)
        elif message.channel == "final" or message.channel is None:
            finals.append(text)
    return RawAnswer(
        final="\n".join(finals),
        analysis="\n".join(analysis),
        commentary="\n".join(commentary),
        tool_calls=tuple(calls),
    )


def _tool_calls(
    request: ChatRequest,
    raw_calls: tuple[RawToolCall, ...],
    where: dict[str, str],
    normalisations: list[str],
) -> list[ToolCall]:
    specs = {tool.name: tool for tool in request.tools}
    calls = []
    for raw in raw_calls:
        spec = specs.get(raw.name)
        if spec is None:
            offered = ", ".join(sorted(specs)) or "none"
            raise LLMUnknownTool(
                f"the model called {raw.name!r}; tools offered: {offered}",
                tool=raw.name,
                raw=raw.arguments,
                **where,
            )
        try:
            arguments: Any = json.loads(raw.arguments) if raw.arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise LLMMalformedOutput(
                f"arguments of {raw.name!r} are not JSON ({exc.msg}): {raw.arguments[:200]!r}",
                **where,
            ) from exc
        if not isinstance(arguments, dict):
            raise LLMSchemaViolation(
                f"arguments of {raw.name!r} must be a JSON object",
                raw=raw.arguments,
                tool=raw.name,
                **where,
            )
        arguments, notes = schema_normalise(arguments, spec.parameters)
        normalisations.extend(f"{raw.name}: {note}" for note in notes)
        errors = schema_errors(arguments, spec.parameters)
        if errors:
            raise LLMSchemaViolation(
                f"arguments of {raw.name!r}: " + "; ".join(errors[:10]),
                raw=raw.arguments,
                tool=raw.name,
                **where,
            )
        calls.append(
            ToolCall(
                name=raw.name, arguments=arguments, raw_arguments=raw.arguments, call_id=raw.call_id
            )
        )
    return calls


def result_build(
    request: ChatRequest,
    answer: RawAnswer,
    *,
    usage: Usage,
    latency_ms: float,
    finish_reason: str,
    backend: str,
    model: str,
    url: str,
    prompt_token_ids: list[int] | None = None,
) -> ChatResult:
    """Check tool calls and structured output, and assemble the result.

    A failure carries ``usage``: the server billed the answer even when it is unusable.
    """
    with usage_billed(usage):
        return _result_build(
            request,
            answer,
            usage=usage,
            latency_ms=latency_ms,
            finish_reason=finish_reason,
            backend=backend,
            model=model,
            url=url,
            prompt_token_ids=prompt_token_ids,
        )


def _result_build(
    request: ChatRequest,
    answer: RawAnswer,
    *,
    usage: Usage,
    latency_ms: float,
    finish_reason: str,
    backend: str,
    model: str,
    url: str,
    prompt_token_ids: list[int] | None,
) -> ChatResult:
    where = {"url": url, "model": model}
    normalisations: list[str] = []
    calls = _tool_calls(request, answer.tool_calls, where, normalisations)
    parsed: Any = None
    if request.response_format is not None and not calls:
        # gpt-oss sometimes puts the JSON in a commentary preamble and a short remark in
        # final; try final first, then the commentary.
        candidates = [answer.final, answer.commentary] if answer.commentary else [answer.final]
        problem = ""
        for candidate in candidates:
            if not candidate.strip():
                continue
            try:
                parsed, notes = structured_parse_with_notes(
                    candidate, request.response_format.schema
                )
                normalisations.extend(notes)
                break
            except StructuredOutputError as exc:
                problem = problem or str(exc)
        else:
            raise LLMSchemaViolation(
                f"{request.response_format.name}: {problem or 'the answer is empty'}",
                raw=answer.final or answer.commentary,
                **where,
            )
    elif not calls and not answer.final.strip() and finish_reason != "length":
        raise LLMMalformedOutput("the model ended its turn without a final answer", **where)
    return ChatResult(
        final=answer.final,
        analysis=answer.analysis,
        commentary=answer.commentary,
        tool_calls=calls,
        parsed=parsed,
        usage=usage,
        latency_ms=latency_ms,
        finish_reason=finish_reason,
        backend=backend,
        model=model,
        prompt_token_ids=prompt_token_ids,
        normalisations=normalisations,
    )
