"""Retries: which failures are retried, with what waits, and where they stop."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from bizagent.llm.client import LLM_RETRY, LLMClient, llm_retry_policy
from bizagent.llm.errors import (
    LLMMalformedOutput,
    LLMSchemaViolation,
    LLMServerError,
    LLMTimeout,
    LLMTruncatedOutput,
    LLMUnknownTool,
    LLMUnreachable,
)
from bizagent.llm.types import ChatRequest, ChatResult


class ScriptedBackend:
    """Raises the given errors in turn, then answers; counts calls."""

    name = "scripted"
    base_url = "http://127.0.0.1:9/v1"
    model = "m"

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def send(self, request, *, timeout):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if isinstance(outcome, Exception):
            raise outcome
        return ChatResult(final="ok")


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def client_for(backend, clock, max_retries=3, **policy):
    return LLMClient(
        backend,
        timeout=5,
        retry=replace(LLM_RETRY, attempts=max_retries + 1, **policy),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(7),
    )


REQUEST = ChatRequest(instructions="x", user="y")


@pytest.mark.parametrize(
    "error",
    [
        LLMUnreachable("refused"),
        LLMTimeout("slow"),
        LLMServerError("boom", status=503),
        LLMServerError("throttled", status=429),
        LLMServerError("dropped"),
        LLMMalformedOutput("garbage"),
    ],
)
def test_transient_failures_are_retried_then_succeed(error):
    clock = FakeClock()
    backend = ScriptedBackend(error, error)
    result = client_for(backend, clock, max_retries=3).complete(REQUEST)
    assert result.final == "ok"
    assert result.attempts == 3
    assert backend.calls == 3
    assert len(clock.waits) == 2


@pytest.mark.parametrize(
    "error",
    [
        LLMServerError("bad request", status=400),
        LLMTruncatedOutput("cut"),
        LLMSchemaViolation("wrong shape"),
        LLMUnknownTool("rm"),
    ],
)
def test_failures_a_retry_cannot_fix_are_raised_at_once(error):
    clock = FakeClock()
    backend = ScriptedBackend(error)
    with pytest.raises(type(error)):
        client_for(backend, clock).complete(REQUEST)
    assert backend.calls == 1
    assert clock.waits == []


def test_retries_stop_at_the_count():
    clock = FakeClock()
    backend = ScriptedBackend(*[LLMUnreachable("refused")] * 10)
    with pytest.raises(LLMUnreachable):
        client_for(backend, clock, max_retries=2).complete(REQUEST)
    assert backend.calls == 3


def test_retries_stop_at_the_time_budget():
    clock = FakeClock()
    backend = ScriptedBackend(*[LLMTimeout("slow")] * 50)
    with pytest.raises(LLMTimeout):
        client_for(
            backend, clock, max_retries=50, budget=10.0, base_delay=2.0, max_delay=8.0
        ).complete(REQUEST)
    assert clock.now <= 10.0
    assert backend.calls < 50


def test_waits_grow_exponentially_with_full_jitter_and_a_cap():
    policy = replace(LLM_RETRY, base_delay=1.0, max_delay=5.0)
    rng = random.Random(1)
    for n in range(8):
        ceiling = min(5.0, 2.0**n)
        waits = [policy.delay(n, rng.random) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8, "jitter spans the whole window"


def test_the_settings_policy_counts_retries_after_the_first_try():
    policy = llm_retry_policy(max_retries=2, budget=7.0)
    assert (policy.attempts, policy.budget, policy.jitter) == (3, 7.0, "full")
