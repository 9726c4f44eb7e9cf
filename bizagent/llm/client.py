"""The model client: one interface over the backends, with bounded retries.

Retries follow ``bizagent.retry``: exponential backoff with full jitter, bounded both in count
(``BIZAGENT_LLM_MAX_RETRIES``) and in total time (``BIZAGENT_LLM_RETRY_BUDGET``), and only
for failures that a second try may fix (unreachable, timeout, 5xx/429, a dropped
connection, unparseable output). Truncation, schema violations and unknown tools are
returned to the caller at once: repeating the same request would not help, and the
caller (the agent loop) knows how to repair.

Every attempt the server answered is billed: a result's ``usage`` (and a raised error's)
sums the failed attempts' usage with its own, so callers can count what was spent.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import cast

from django.conf import settings

from bizagent.llm.backends.base import Backend
from bizagent.llm.backends.ollama import OllamaBackend
from bizagent.llm.backends.openai_chat import OpenAIChatBackend
from bizagent.llm.backends.vllm import VllmBackend
from bizagent.llm.errors import LLMConfigurationError, LLMError
from bizagent.llm.types import ChatRequest, ChatResult, Usage
from bizagent.redact import url_redact
from bizagent.retry import Failure, RetryPolicy, call_with_retry, retry_after_seconds

logger = logging.getLogger(__name__)


#: The model client's default: three retries with full jitter, two minutes in all.
LLM_RETRY = RetryPolicy(attempts=4, base_delay=1.0, max_delay=30.0, budget=120.0, jitter="full")


def llm_retry_policy(*, max_retries: int, budget: float) -> RetryPolicy:
    """The model client's policy with the operator's retry count and time budget."""
    return replace(LLM_RETRY, attempts=max_retries + 1, budget=budget)


class LLMClient:
    def __init__(
        self,
        backend: Backend,
        *,
        timeout: float,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.backend = backend
        self.timeout = timeout
        self.retry = retry or LLM_RETRY
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    @property
    def backend_name(self) -> str:
        return self.backend.name

    @property
    def model(self) -> str:
        return self.backend.model

    @property
    def base_url(self) -> str:
        """The server root as it may be shown: credentials in it are replaced by ``***``.

        Only the backend holds the real URL, which it needs to connect; everything that
        prints or stores where the model lives (llmcheck, error messages) reads this.
        """
        return url_redact(self.backend.base_url)

    def complete(self, request: ChatRequest) -> ChatResult:
        """One model call, retried within the policy; raises the last classified error."""
        # Tokens the server billed for attempts that failed after it answered (a garbled
        # answer retried): they count towards this call, whatever its end.
        spent: list[Usage] = []
        attempts = 0

        def attempt() -> ChatResult:
            nonlocal attempts
            attempts += 1
            return self.backend.send(request, timeout=self.timeout)

        def classify(exc: Exception) -> Failure | None:
            if not isinstance(exc, LLMError):
                return None
            return Failure(error=exc, retryable=exc.retryable, retry_after=retry_after_seconds(exc))

        def account(failure: Failure, attempt_number: int) -> None:
            error = failure.error
            assert isinstance(error, LLMError)
            if error.usage is not None:
                spent.append(error.usage)
            error.usage = _usage_sum(spent)
            error.attempts = attempt_number

        result = call_with_retry(
            attempt,
            policy=self.retry,
            classify=classify,
            what="model call",
            on_failure=account,
            sleep=self._sleep,
            clock=self._clock,
            rand=self._rng.random,
        )
        result.attempts = attempts
        if spent:
            # spent is not empty here, so its sum is a Usage, not None.
            result.usage = cast("Usage", _usage_sum(spent)) + result.usage
        return result


def _usage_sum(usages: list[Usage]) -> Usage | None:
    if not usages:
        return None
    total = usages[0]
    for usage in usages[1:]:
        total = total + usage
    return total


def backend_build(
    *, backend: str, base_url: str, model: str, api_key: str | None, context_tokens: int
) -> Backend:
    if backend == "vllm":
        return VllmBackend(base_url=base_url, model=model, api_key=api_key)
    if backend == "ollama":
        return OllamaBackend(base_url=base_url, model=model, context_tokens=context_tokens)
    if backend == "openai":
        return OpenAIChatBackend(base_url=base_url, model=model, api_key=api_key)
    raise LLMConfigurationError(f"BIZAGENT_LLM_BACKEND {backend!r} is not vllm, ollama or openai")


#: Each thread's client and the settings it was built from (``llm_client``).
_CLIENTS = threading.local()


def llm_client() -> LLMClient:
    """The client configured by the BIZAGENT_LLM_* settings, one per thread and settings.

    Kept so its HTTP session (or SDK client) keeps the connection to the model server
    open from call to call: a client built afresh for every loop iteration opened a new
    connection every time. A changed setting builds a new one.
    """
    key = (
        settings.LLM_BACKEND,
        settings.LLM_BASE_URL,
        settings.LLM_MODEL,
        settings.LLM_API_KEY,
        settings.LLM_CONTEXT_TOKENS,
        settings.LLM_TIMEOUT,
        settings.LLM_MAX_RETRIES,
        settings.LLM_RETRY_BUDGET,
    )
    kept = getattr(_CLIENTS, "kept", None)
    if kept is not None and kept[0] == key:
        return kept[1]
    client = _llm_client_build()
    _CLIENTS.kept = (key, client)
    return client


def _llm_client_build() -> LLMClient:
    return LLMClient(
        backend_build(
            backend=settings.LLM_BACKEND,
            base_url=settings.LLM_BASE_URL,
            model=settings.LLM_MODEL,
            api_key=settings.LLM_API_KEY,
            context_tokens=settings.LLM_CONTEXT_TOKENS,
        ),
        timeout=settings.LLM_TIMEOUT,
        retry=llm_retry_policy(
            max_retries=settings.LLM_MAX_RETRIES, budget=settings.LLM_RETRY_BUDGET
        ),
    )
