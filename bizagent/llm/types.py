"""The values that cross the model boundary: what we ask and what comes back."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

ReasoningLevel = Literal["low", "medium", "high"]


@dataclass(frozen=True)
class ToolSpec:
    """A function tool the model may call, described by a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True)
class ResponseFormat:
    """Structured output: declared under ``# Response Formats`` and validated on return."""

    name: str
    schema: dict[str, Any]
    description: str = ""


@dataclass(frozen=True)
class ToolCall:
    """A function call the model made (``functions.NAME`` on the commentary channel)."""

    name: str
    arguments: dict[str, Any]
    raw_arguments: str
    call_id: str = ""


@dataclass(frozen=True)
class HistoryMessage:
    """One earlier message of the conversation.

    ``role`` is ``user``, ``assistant`` or ``tool``. Assistant messages carry their
    ``channel`` (``analysis``, ``commentary`` or ``final``); an assistant tool call has
    ``recipient`` ``functions.NAME``; a tool result has ``name`` (the tool) and answers
    the assistant on the commentary channel.
    """

    role: Literal["user", "assistant", "tool"]
    content: str
    channel: str | None = None
    recipient: str | None = None
    name: str | None = None
    content_type: str | None = None
    #: Ties a tool result to its call for chat APIs that need it (OpenAI-compatible).
    call_id: str | None = None


@dataclass(frozen=True)
class ChatRequest:
    """Everything needed to render one gpt-oss prompt.

    ``instructions`` and ``tools`` go in the developer message; keep them byte-identical
    across calls of the same role so the server's prefix cache holds, and put per-task
    data in ``user``/``history`` (they come last).
    """

    instructions: str
    user: str | None = None
    history: tuple[HistoryMessage, ...] = ()
    tools: tuple[ToolSpec, ...] = ()
    response_format: ResponseFormat | None = None
    reasoning: ReasoningLevel = "medium"
    max_tokens: int = 4096
    temperature: float = 1.0
    #: Pinned so the system message (and with it the prefix cache) is stable all day.
    conversation_date: dt.date | None = None
    knowledge_cutoff: str = "2024-06"


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: Prompt tokens the server reported served from its prefix cache, when it says.
    cached_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        """Both calls' usage; cached stays None only when neither server said."""
        cached = (
            None
            if self.cached_tokens is None and other.cached_tokens is None
            else (self.cached_tokens or 0) + (other.cached_tokens or 0)
        )
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cached_tokens=cached,
        )


@dataclass
class ChatResult:
    """What one model call produced.

    ``final`` is the text of the final channel (never the analysis); ``analysis`` is the
    chain of thought, kept for audit and the critic and never shown to approvers;
    ``parsed`` is the validated structured output when a response format was given,
    after harmless normalisation (``normalisations`` says what changed). ``usage`` is
    what the server billed for this call, failed attempts the client retried included.
    """

    final: str
    analysis: str = ""
    commentary: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    parsed: Any = None
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    finish_reason: str = "stop"
    backend: str = ""
    model: str = ""
    #: Rendered prompt token ids when the client rendered them (vLLM); for prefix stats.
    prompt_token_ids: list[int] | None = None
    attempts: int = 1
    #: What ``schema_normalise`` changed in the answer before validating it.
    normalisations: list[str] = field(default_factory=list)


@runtime_checkable
class ChatClient(Protocol):
    """What the code that calls the model needs of a client.

    ``bizagent.llm.client.LLMClient`` is the real one; tests use in-process stand-ins
    (``tests/goals/studio.py``). ``complete`` makes one call (retries included) and
    raises a classified ``LLMError``; the names say where the answer came from, for the
    iteration log (``base_url`` is already redacted).
    """

    # Read-only properties: LLMClient derives them from its backend, a stand-in may hold
    # them as plain attributes; either satisfies the protocol.
    @property
    def backend_name(self) -> str: ...
    @property
    def model(self) -> str: ...
    @property
    def base_url(self) -> str: ...

    def complete(self, request: ChatRequest) -> ChatResult: ...
