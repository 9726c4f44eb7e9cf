"""One retry policy for every outbound client (the model server, Google Sheets, …).

A call is retried only when its failure is classified as retryable, at most
``RetryPolicy.attempts`` times in all, and never past the policy's time ``budget``: a
worker must finish a bounded unit of work even when the far side answers 429 forever.
Waits grow exponentially (or stay constant) with jitter so that many workers failing
together do not retry together, and a server's own ``Retry-After`` is honoured as a
minimum wait. ``sleep``, ``clock`` and ``rand`` are injected so tests never wait.

The caller keeps its own error vocabulary: ``classify`` turns whatever the call raised
into the error to raise (or None to let it through untouched) and says whether a
second try may help; ``on_give_up`` chooses what is raised when the budget is spent.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

Backoff = Literal["exponential", "constant"]
#: ``full``: uniform in [0, backoff]; ``equal``: at least half the backoff; ``none``.
Jitter = Literal["full", "equal", "none"]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard one call tries before giving up.

    ``attempts`` counts every try, the first included. ``budget`` bounds the seconds
    the retries may add to a call: waits and the tries after the first. The wait before
    retry ``n`` (0-based) is ``base_delay * 2**n`` (or ``base_delay`` when constant),
    capped at ``max_delay``, then jittered.
    """

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    budget: float = 120.0
    backoff: Backoff = "exponential"
    jitter: Jitter = "full"

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be at least 1, got {self.attempts}")
        if min(self.base_delay, self.max_delay, self.budget) < 0:
            raise ValueError("RetryPolicy delays and budget must not be negative")

    def delay(self, retry_number: int, rand: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry ``retry_number`` (0 for the first retry)."""
        if self.backoff == "constant":
            ceiling = min(self.max_delay, self.base_delay)
        else:
            # min() before the power would overflow a float after ~1,000 retries.
            ceiling = min(self.max_delay, self.base_delay * (2 ** min(retry_number, 64)))
        if self.jitter == "full":
            return rand() * ceiling
        if self.jitter == "equal":
            return ceiling / 2 + rand() * ceiling / 2
        return ceiling


@dataclass(frozen=True)
class Failure:
    """What ``classify`` says about one failed try."""

    #: The exception to raise if this is the last try (the original or a translation).
    error: BaseException
    retryable: bool
    #: Seconds the server asked us to wait (``Retry-After``), if it said.
    retry_after: float | None = None


def retry_after_seconds(exc: BaseException) -> float | None:
    """The ``Retry-After`` header (seconds form) of the HTTP response ``exc`` carries,
    or its ``retry_after`` attribute; None when absent or not a non-negative number."""
    value = getattr(exc, "retry_after", None)
    if value is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) if response is not None else None
        value = headers.get("Retry-After") if headers is not None else None
    if value is None:
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        # The HTTP-date form is rare from the APIs we call; the backoff applies instead.
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def call_with_retry(
    fn: Callable[[], T],
    *,
    policy: RetryPolicy,
    classify: Callable[[Exception], Failure | None],
    what: str = "call",
    on_failure: Callable[[Failure, int], None] | None = None,
    on_give_up: Callable[[Failure, int], BaseException] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """Call ``fn``; retry its retryable failures within ``policy``; return its value.

    ``classify`` returning None lets the exception through unchanged (not a failure
    this policy knows). ``on_failure(failure, attempt)`` sees every failed try (for
    accounting). When the next wait would overrun the budget, the error from
    ``on_give_up(failure, attempt)`` is raised, or the failure's own error.
    """
    started = clock()
    slept = 0.0
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:
            failure = classify(exc)
            if failure is None:
                raise
            if on_failure is not None:
                on_failure(failure, attempt)
            if not failure.retryable or attempt >= policy.attempts:
                _raise(failure.error, exc)
            wait = max(policy.delay(attempt - 1, rand), failure.retry_after or 0.0)
            # The injected clock measures the tries; ``slept`` counts the waits even
            # when a test's sleep does not move that clock. Whichever is larger is spent.
            spent = max(clock() - started, slept)
            if spent + wait > policy.budget:
                _raise(on_give_up(failure, attempt) if on_give_up else failure.error, exc)
            logger.warning(
                "%s failed (attempt %d/%d), retrying in %.1fs: %s",
                what,
                attempt,
                policy.attempts,
                wait,
                failure.error,
            )
            sleep(wait)
            slept += wait


def _raise(error: BaseException, cause: Exception) -> None:
    if error is cause:
        raise cause
    raise error from cause
