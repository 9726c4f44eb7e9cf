"""bizagent.retry: the one retry policy every outbound client uses, table-tested."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bizagent.retry import Failure, RetryPolicy, call_with_retry, retry_after_seconds


class Transient(Exception):
    retry_after = None


class Permanent(Exception):
    pass


class Foreign(Exception):
    """Not a failure the policy knows: it must pass through untouched."""


class FakeTime:
    """An injected clock and sleep: sleeping moves the clock; nothing waits."""

    def __init__(self, call_seconds: float = 0.0) -> None:
        self.now = 0.0
        self.waits: list[float] = []
        self.call_seconds = call_seconds

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def classify(exc: Exception) -> Failure | None:
    if isinstance(exc, Foreign):
        return None
    return Failure(
        error=exc, retryable=isinstance(exc, Transient), retry_after=retry_after_seconds(exc)
    )


def scripted(time: FakeTime, *outcomes: object):
    """A call that raises each outcome in turn (taking ``call_seconds``), then answers."""
    queue = list(outcomes)
    calls = []

    def fn() -> str:
        calls.append(time.now)
        time.now += time.call_seconds
        outcome = queue.pop(0) if queue else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    return fn, calls


def run(policy: RetryPolicy, time: FakeTime, *outcomes: object, **kwargs):
    fn, calls = scripted(time, *outcomes)
    result = call_with_retry(
        fn,
        policy=policy,
        classify=classify,
        sleep=time.sleep,
        clock=time.clock,
        rand=lambda: 0.5,
        **kwargs,
    )
    return result, calls


@pytest.mark.parametrize(
    ("policy", "retry_number", "rand", "expected"),
    [
        # exponential, full jitter: uniform in [0, min(max, base * 2**n)]
        (RetryPolicy(base_delay=1, max_delay=30, jitter="full"), 0, 0.5, 0.5),
        (RetryPolicy(base_delay=1, max_delay=30, jitter="full"), 3, 0.5, 4.0),
        (RetryPolicy(base_delay=1, max_delay=30, jitter="full"), 3, 1.0, 8.0),
        (RetryPolicy(base_delay=1, max_delay=30, jitter="full"), 10, 1.0, 30.0),
        (RetryPolicy(base_delay=1, max_delay=30, jitter="full"), 10_000, 1.0, 30.0),
        # equal jitter: at least half the window
        (RetryPolicy(base_delay=1, max_delay=16, jitter="equal"), 0, 0.0, 0.5),
        (RetryPolicy(base_delay=1, max_delay=16, jitter="equal"), 2, 0.5, 3.0),
        (RetryPolicy(base_delay=1, max_delay=16, jitter="equal"), 9, 1.0, 16.0),
        # no jitter
        (RetryPolicy(base_delay=2, max_delay=16, jitter="none"), 2, 0.1, 8.0),
        # constant backoff
        (RetryPolicy(base_delay=3, backoff="constant", jitter="none"), 0, 0.5, 3.0),
        (RetryPolicy(base_delay=3, backoff="constant", jitter="none"), 7, 0.5, 3.0),
        (RetryPolicy(base_delay=3, max_delay=2, backoff="constant", jitter="none"), 7, 0.5, 2.0),
        (RetryPolicy(base_delay=4, backoff="constant", jitter="full"), 5, 0.25, 1.0),
    ],
)
def test_delay_table(policy, retry_number, rand, expected):
    assert policy.delay(retry_number, lambda: rand) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("policy", "outcomes", "raised", "calls", "waits"),
    [
        # succeeds at once: no wait
        (RetryPolicy(), [], None, 1, []),
        # transient twice, then answers: two waits (full jitter at rand 0.5)
        (RetryPolicy(), [Transient(), Transient()], None, 3, [0.5, 1.0]),
        # a permanent failure is raised at once
        (RetryPolicy(), [Permanent()], Permanent, 1, []),
        # a transient then a permanent: one wait, then the permanent one
        (RetryPolicy(), [Transient(), Permanent()], Permanent, 2, [0.5]),
        # attempts bound the tries, the first included
        (RetryPolicy(attempts=3), [Transient()] * 9, Transient, 3, [0.5, 1.0]),
        (RetryPolicy(attempts=1), [Transient()], Transient, 1, []),
        # the budget bounds the waits: 0.5 + 1 + 2 = 3.5 fits in 4, the next 4 does not
        (RetryPolicy(attempts=50, budget=4), [Transient()] * 50, Transient, 4, [0.5, 1.0, 2.0]),
        # constant backoff without jitter
        (
            RetryPolicy(base_delay=2, backoff="constant", jitter="none"),
            [Transient()] * 2,
            None,
            3,
            [2.0, 2.0],
        ),
    ],
)
def test_call_with_retry_table(policy, outcomes, raised, calls, waits):
    time = FakeTime()
    if raised is None:
        result, made = run(policy, time, *outcomes)
        assert result == "ok"
    else:
        fn, made = scripted(time, *outcomes)
        with pytest.raises(raised):
            call_with_retry(
                fn,
                policy=policy,
                classify=classify,
                sleep=time.sleep,
                clock=time.clock,
                rand=lambda: 0.5,
            )
    assert len(made) == calls
    assert time.waits == waits


def test_the_budget_counts_the_time_the_tries_take():
    # Each try takes 3 s: after two tries and a wait of 0.5 the clock says 6.5 s, so a
    # further wait of 1 s would pass the 7 s budget even though the waits alone would not.
    time = FakeTime(call_seconds=3.0)
    fn, made = scripted(time, *[Transient()] * 9)
    with pytest.raises(Transient):
        call_with_retry(
            fn,
            policy=RetryPolicy(attempts=9, budget=7.0),
            classify=classify,
            sleep=time.sleep,
            clock=time.clock,
            rand=lambda: 0.5,
        )
    assert len(made) == 2
    assert time.waits == [0.5]


def test_the_budget_counts_the_waits_when_the_clock_is_not_injected():
    waits: list[float] = []
    fn, _made = scripted(FakeTime(), *[Transient()] * 50)
    with pytest.raises(Transient):
        call_with_retry(
            fn,
            policy=RetryPolicy(attempts=50, budget=4),
            classify=classify,
            sleep=waits.append,
            rand=lambda: 0.5,
        )
    assert waits == [0.5, 1.0, 2.0]


def test_retry_after_is_a_minimum_wait():
    time = FakeTime()
    throttled = Transient()
    throttled.retry_after = 7
    result, _made = run(RetryPolicy(), time, throttled)
    assert result == "ok" and time.waits == [7.0]


def test_a_retry_after_beyond_the_budget_gives_up_at_once():
    time = FakeTime()
    throttled = Transient()
    throttled.retry_after = 600
    with pytest.raises(Transient):
        run(RetryPolicy(budget=30), time, throttled)
    assert time.waits == []


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (SimpleNamespace(retry_after=3), 3.0),
        (SimpleNamespace(retry_after="2.5"), 2.5),
        (SimpleNamespace(response=SimpleNamespace(headers={"Retry-After": "5"})), 5.0),
        (SimpleNamespace(response=SimpleNamespace(headers={})), None),
        (SimpleNamespace(response=None), None),
        (
            SimpleNamespace(
                response=SimpleNamespace(headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
            ),
            None,
        ),
        (SimpleNamespace(retry_after="-1"), None),
        (SimpleNamespace(retry_after="nan"), None),
        (SimpleNamespace(retry_after="inf"), None),
        (Exception("no response"), None),
    ],
)
def test_retry_after_seconds_table(exc, expected):
    assert retry_after_seconds(exc) == expected


def test_a_failure_the_policy_does_not_know_passes_through_untouched():
    time = FakeTime()
    foreign = Foreign("boom")
    fn, made = scripted(time, foreign)
    with pytest.raises(Foreign) as info:
        call_with_retry(fn, policy=RetryPolicy(), classify=classify, sleep=time.sleep)
    assert info.value is foreign and len(made) == 1 and time.waits == []


def test_classify_may_translate_the_error_and_give_up_may_replace_it():
    class Translated(Exception):
        pass

    class GaveUp(Exception):
        pass

    time = FakeTime()
    fn, _made = scripted(time, *[Transient()] * 9)
    seen: list[int] = []
    with pytest.raises(GaveUp, match="after 3") as info:
        call_with_retry(
            fn,
            policy=RetryPolicy(attempts=9, budget=1.6),
            classify=lambda exc: Failure(error=Translated(str(exc)), retryable=True),
            on_failure=lambda failure, attempt: seen.append(attempt),
            on_give_up=lambda failure, attempt: GaveUp(f"after {attempt}"),
            sleep=time.sleep,
            clock=time.clock,
            rand=lambda: 0.5,
        )
    assert seen == [1, 2, 3]
    assert isinstance(info.value.__cause__, Transient)
    assert time.waits == [0.5, 1.0]


@pytest.mark.parametrize("bad", [{"attempts": 0}, {"budget": -1}, {"base_delay": -0.5}])
def test_a_nonsensical_policy_is_refused(bad):
    with pytest.raises(ValueError):
        RetryPolicy(**bad)
