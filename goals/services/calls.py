"""One role call: the request, the model call, and the one repair call a violation earns.

Nothing here touches the database: the model is called with no transaction open and no
lock held, and the outcome comes back as a plain value for the persisting step.

Every call the server answered is billed, so every call is counted: the main call and
the repair call, successful or not (a failure carries the usage the server reported).
The outcome's token figures are what the iteration records and the daily budget reads.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bizagent.llm.errors import LLMError, LLMMalformedOutput, LLMSchemaViolation
from bizagent.llm.harmony import harmony_render
from bizagent.llm.types import ChatClient, ChatRequest, ChatResult, HistoryMessage, Usage
from goals.roles import repair_message
from goals.stats import prompt_ids_bytes, shared_prefix_bytes

#: Model failures that say the server, not the task, is the problem: back off and retry.
INFRASTRUCTURE_ERRORS = frozenset({"unreachable", "timeout", "server_error"})
#: Failures where the server answered, but with something unusable. Repeated, they say the
#: model (or its settings) is the problem: the loop backs off instead of burning tokens.
ANSWER_ERRORS = frozenset(
    {"malformed_output", "truncated_output", "schema_violation", "unknown_tool"}
)
MAIN = "main"
REPAIR = "repair"


@dataclass
class CallOutcome:
    """What the role call produced, successful or not, with its costs."""

    result: ChatResult | None = None
    error: LLMError | None = None
    repaired: bool = False
    #: HTTP calls made (client retries included), and what each role call cost.
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None
    analysis: str = ""
    final: str = ""
    prompt_ids: list[int] = field(default_factory=list)
    #: ``prompt_ids`` in ``prompt_ids_bytes`` form, with the list it was made from.
    _packed: tuple[list[int], bytes] | None = field(default=None, repr=False, compare=False)
    #: One entry per role call (main, repair): purpose, tokens, attempts, error class.
    calls: list[dict[str, Any]] = field(default_factory=list)
    #: What was normalised in the accepted answer instead of a repair call.
    normalisations: list[str] = field(default_factory=list)
    #: Milliseconds: ``client`` is the whole call, ``http`` the server's part of it.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None and self.result is not None

    @property
    def error_class(self) -> str:
        return self.error.error_class if self.error is not None else ""

    @property
    def infrastructure_failure(self) -> bool:
        return self.error_class in INFRASTRUCTURE_ERRORS

    @property
    def prompt_bytes(self) -> bytes:
        """``prompt_ids`` as ``prompt_ids_bytes``: made once for the prefix figure and the
        role's stored last prompt alike (~0.1 ms each time). Remade when ``prompt_ids``
        is another list (it is only ever assigned, never changed in place)."""
        kept = self._packed
        if kept is None or kept[0] is not self.prompt_ids:
            kept = self._packed = (self.prompt_ids, prompt_ids_bytes(self.prompt_ids))
        return kept[1]

    def prefix_shared_with(self, previous: bytes | None) -> int:
        """How many leading ids this call's prompt shares with ``previous`` (the role's
        last prompt, ``role_prompt_bytes``)."""
        return shared_prefix_bytes(previous, self.prompt_bytes)

    @property
    def answer_failure(self) -> bool:
        """The server answered, but nothing usable: malformed, truncated, off-schema."""
        return self.error_class in ANSWER_ERRORS

    def _bill(self, *, purpose: str, usage: Usage | None, attempts: int, error: str = "") -> None:
        """Count one role call: its HTTP attempts and every token the server reported."""
        usage = usage or Usage()
        self.model_calls += max(1, attempts)
        self.prompt_tokens += usage.prompt_tokens
        self.completion_tokens += usage.completion_tokens
        if usage.cached_tokens is not None:
            self.cached_tokens = (self.cached_tokens or 0) + usage.cached_tokens
        self.calls.append(
            {
                "purpose": purpose,
                "prompt_tokens": usage.prompt_tokens,
                "completion_tokens": usage.completion_tokens,
                "cached_tokens": usage.cached_tokens,
                "attempts": max(1, attempts),
                "error_class": error,
            }
        )


def _repair_request(request: ChatRequest, exc: LLMError) -> ChatRequest:
    """The original turn, the rejected answer, and a user turn quoting the validator."""
    raw = getattr(exc, "raw", "") or ""
    history = [HistoryMessage(role="user", content=request.user or "")]
    if raw.strip():
        history.append(HistoryMessage(role="assistant", content=raw, channel="final"))
    assert request.response_format is not None
    return ChatRequest(
        instructions=request.instructions,
        user=repair_message(detail=exc.detail, response_format=request.response_format),
        history=tuple(history),
        tools=request.tools,
        response_format=request.response_format,
        reasoning=request.reasoning,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        conversation_date=request.conversation_date,
        knowledge_cutoff=request.knowledge_cutoff,
    )


def _complete(
    client: ChatClient, request: ChatRequest, outcome: CallOutcome, *, purpose: str
) -> ChatResult:
    started = time.perf_counter()
    try:
        result = client.complete(request)
    except LLMError as exc:
        outcome._bill(
            purpose=purpose,
            usage=getattr(exc, "usage", None),
            attempts=getattr(exc, "attempts", 1),
            error=exc.error_class,
        )
        raise
    finally:
        outcome.timings["client"] = (
            outcome.timings.get("client", 0.0) + (time.perf_counter() - started) * 1000
        )
    outcome._bill(purpose=purpose, usage=result.usage, attempts=result.attempts)
    outcome.timings["http"] = outcome.timings.get("http", 0.0) + result.latency_ms
    return result


def role_call(*, client: ChatClient, request: ChatRequest) -> CallOutcome:
    """Call the model; on a schema violation or unparseable answer, one repair call.

    The repair call quotes the validator's message; if its answer fails too, the outcome
    carries that second error and the iteration fails with its class. Errors are
    returned, not raised: every path ends in a recorded iteration.
    """
    outcome = CallOutcome()
    try:
        result = _complete(client, request, outcome, purpose=MAIN)
    except (LLMSchemaViolation, LLMMalformedOutput) as first:
        outcome.final = getattr(first, "raw", "") or ""
        outcome.repaired = True
        try:
            result = _complete(client, _repair_request(request, first), outcome, purpose=REPAIR)
        except LLMError as second:
            outcome.error = second
            outcome.final = getattr(second, "raw", "") or outcome.final
            _prompt_ids(outcome, request, None)
            return outcome
    except LLMError as exc:
        outcome.error = exc
        _prompt_ids(outcome, request, None)
        return outcome
    outcome.result = result
    outcome.analysis = result.analysis
    outcome.final = result.final
    outcome.normalisations = list(getattr(result, "normalisations", []) or [])
    # Prefix figures are about the role's first-shot prompt, which is what repeats.
    _prompt_ids(outcome, request, None if outcome.repaired else result.prompt_token_ids)
    return outcome


def _prompt_ids(outcome: CallOutcome, request: ChatRequest, given: list[int] | None) -> None:
    if given is not None:
        outcome.prompt_ids = list(given)
        return
    started = time.perf_counter()
    try:
        outcome.prompt_ids = harmony_render(request)
    except Exception:  # figures only; a render problem already failed the call itself
        outcome.prompt_ids = []
    outcome.timings["render"] = (time.perf_counter() - started) * 1000


def parsed_answer(outcome: CallOutcome) -> Any:
    return outcome.result.parsed if outcome.result is not None else None
