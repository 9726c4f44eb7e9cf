"""Classified failures of a model call.

Each class carries the server URL and model so its message tells an operator exactly
which server failed and how; ``error_class`` is the stable name stored on iterations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from bizagent.redact import text_redact, url_redact, url_secrets

if TYPE_CHECKING:
    from bizagent.llm.types import Usage


class ErrorWhere(TypedDict):
    """Which server and model a failure came from (the keyword arguments every error takes)."""

    url: str
    model: str


class LLMError(Exception):
    """Base of every model-call failure."""

    error_class = "llm_error"
    #: Whether a retry of the same request may succeed.
    retryable = False
    #: What the server billed before the failure (it answered, the answer was bad), over
    #: every attempt; None when no answer with usage came back. Set by ``usage_billed``
    #: and the client, so a bad answer's tokens are counted like a good one's.
    usage: Usage | None = None
    #: HTTP calls made, retries included.
    attempts: int = 1

    def __init__(self, detail: str, *, url: str = "", model: str = "") -> None:
        # The URL may carry credentials (``http://user:pw@host``); the message is shown by
        # llmcheck and stored on iterations, tasks, the loop state and audit rows, so the
        # error keeps only the redacted URL, and any echo of its secrets in the detail (an
        # HTTP library quoting the URL it failed on) is masked too.
        self.detail = text_redact(str(detail), secrets=url_secrets(url))
        self.url = url_redact(url)
        self.model = model
        super().__init__(self.describe())

    def describe(self) -> str:
        where = f" ({self.model} at {self.url})" if self.url or self.model else ""
        return f"{self.summary}{where}: {self.detail}"

    summary = "model call failed"


class LLMUnreachable(LLMError):
    error_class = "unreachable"
    retryable = True
    summary = "model server unreachable"


class LLMTimeout(LLMError):
    error_class = "timeout"
    retryable = True
    summary = "model server timed out"


class LLMServerError(LLMError):
    error_class = "server_error"
    summary = "model server error"

    def __init__(self, detail: str, *, status: int | None = None, **kwargs: str) -> None:
        self.status = status
        super().__init__(detail, **kwargs)

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        # 5xx, 429 and a dropped connection may pass; 4xx means the request itself is wrong.
        return self.status is None or self.status >= 500 or self.status in (408, 429)


class LLMMalformedOutput(LLMError):
    error_class = "malformed_output"
    retryable = True
    summary = "model output could not be parsed"


class LLMTruncatedOutput(LLMError):
    error_class = "truncated_output"
    summary = "model output was truncated (hit max tokens before a stop token)"


class LLMSchemaViolation(LLMError):
    error_class = "schema_violation"
    summary = "model output does not match its JSON Schema"

    def __init__(self, detail: str, *, raw: str = "", tool: str = "", **kwargs: str) -> None:
        self.raw = raw
        #: The tool whose arguments broke its schema; empty for a response format. An
        #: agent loop uses it to hand the model its mistake as a tool result to fix.
        self.tool = tool
        super().__init__(detail, **kwargs)


class LLMUnknownTool(LLMError):
    error_class = "unknown_tool"
    summary = "model called a tool it was not given"

    def __init__(self, detail: str, *, tool: str = "", raw: str = "", **kwargs: str) -> None:
        #: The name the model called and its raw arguments, so an agent loop can answer
        #: the call with an error the model can recover from instead of failing.
        self.tool = tool
        self.raw = raw
        super().__init__(detail, **kwargs)


class LLMConfigurationError(LLMError):
    """The client cannot start: bad settings or a missing or corrupt vocab."""

    error_class = "configuration"
    summary = "model client is misconfigured"
