"""The model client: one interface over the backends, with bounded retries.

Retries use exponential backoff with full jitter, bounded both in count
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
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from bizagent.llm.backends.base import Backend
from bizagent.llm.backends.ollama import OllamaBackend
from bizagent.llm.backends.openai_chat import OpenAIChatBackend
from bizagent.llm.backends.vllm import VllmBackend
from bizagent.llm.errors import LLMConfigurationError, LLMError
from bizagent.llm.types import ChatRequest, ChatResult, Usage
from bizagent.redact import url_redact

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    #: Seconds all attempts and waits of one call may take together, on top of the first try.
    budget: float = 120.0
    base_delay: float = 1.0
    max_delay: float = 30.0

    def delay(self, retry_number: int, rng: random.Random) -> float:
        """Full jitter: uniform in [0, min(max_delay, base * 2**n)]."""
        ceiling = min(self.max_delay, self.base_delay * (2**retry_number))
        return rng.uniform(0, ceiling)


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
        self.retry = retry or RetryPolicy()
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
        started = self._clock()
        retries = 0
        # Tokens the server billed for attempts that failed after it answered (a garbled
        # answer retried): they count towards this call, whatever its end.
        spent: Usage | None = None
        while True:
            try:
                result = self.backend.send(request, timeout=self.timeout)
            except LLMError as exc:
                if exc.usage is not None:
                    spent = exc.usage if spent is None else spent + exc.usage
                exc.usage = spent
                exc.attempts = retries + 1
                if not exc.retryable or retries >= self.retry.max_retries:
                    raise
                wait = self.retry.delay(retries, self._rng)
                if self._clock() - started + wait > self.retry.budget:
                    raise
                retries += 1
                logger.warning(
                    "model call failed (%s), retry %d/%d in %.1fs",
                    exc.error_class,
                    retries,
                    self.retry.max_retries,
                    wait,
                )
                self._sleep(wait)
                continue
            result.attempts = retries + 1
            if spent is not None:
                result.usage = spent + result.usage
            return result


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


def llm_client() -> LLMClient:
    """The client configured by the BIZAGENT_LLM_* settings."""
    return LLMClient(
        backend_build(
            backend=settings.LLM_BACKEND,
            base_url=settings.LLM_BASE_URL,
            model=settings.LLM_MODEL,
            api_key=settings.LLM_API_KEY,
            context_tokens=settings.LLM_CONTEXT_TOKENS,
        ),
        timeout=settings.LLM_TIMEOUT,
        retry=RetryPolicy(max_retries=settings.LLM_MAX_RETRIES, budget=settings.LLM_RETRY_BUDGET),
    )
