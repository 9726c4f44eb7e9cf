"""The loop's tunables, read from settings with documented defaults and bounds.

Each value may be set in Django settings (``GOALS_*``) or, for operators, in the
environment under the same name with a ``BIZAGENT_`` prefix
(``BIZAGENT_GOALS_LEASE_SECONDS``); the environment is read through the strict helpers so
a wrong value names its variable. Every value also has an upper bound: a huge number is
as wrong as a negative one (a schedule of 10**30 minutes crashes the database write),
and it must be refused before anything is written, not half way through ``runloop
start``. ``conf()`` reads and checks them all at once, once: the system check
``goals.E001`` (``goals/checks.py``) reads it when a command or the server starts, so a
bad value stops start-up instead of the first loop tick, and later calls reuse it. A
test that overrides a setting clears the cache (``setting_changed``); ``conf_reset``
clears it by hand (after changing the environment).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from bizagent.env import env_bool, env_float, env_int

DAY = 86_400


def _bounded(label: str, number: float, minimum: float, maximum: float) -> None:
    if isinstance(number, float) and not math.isfinite(number):
        raise ImproperlyConfigured(f"{label} must be a finite number, got {number!r}")
    if number < minimum:
        raise ImproperlyConfigured(f"{label} must be at least {minimum}, got {number}")
    if number > maximum:
        raise ImproperlyConfigured(f"{label} must be at most {maximum}, got {number}")


def _number(
    name: str,
    default: float,
    minimum: float,
    maximum: float,
    *,
    convert: Callable[[Any], float],
    env_read: Callable[..., float],
    expected: str,
) -> float:
    """A bounded number from settings (tests override them) or else the environment."""
    if hasattr(settings, name):
        value = getattr(settings, name)
        try:
            number = convert(value)
        except (TypeError, ValueError, OverflowError):
            raise ImproperlyConfigured(f"{name} must be {expected}, got {value!r}") from None
        _bounded(name, number, minimum, maximum)
        return number
    variable = f"BIZAGENT_{name}"
    number = env_read(variable, default, minimum=minimum)
    _bounded(variable, number, minimum, maximum)
    return number


def _int(name: str, default: int, minimum: int, maximum: int) -> int:
    number = _number(
        name, default, minimum, maximum, convert=int, env_read=env_int, expected="an integer"
    )
    return int(number)


def _float(name: str, default: float, minimum: float, maximum: float) -> float:
    return _number(
        name, default, minimum, maximum, convert=float, env_read=env_float, expected="a number"
    )


def _bool(name: str, default: bool) -> bool:
    if hasattr(settings, name):
        return bool(getattr(settings, name))
    return env_bool(f"BIZAGENT_{name}", default)


@dataclass(frozen=True)
class Conf:
    #: How long a claimed task stays leased without a heartbeat. The worker's heartbeat
    #: renews it every third of this while the worker lives (a long model call included),
    #: so it can be short: a dead worker's task is claimable again within about a minute.
    lease_seconds: int
    #: Seconds before a failed task may be claimed again, doubled per attempt.
    retry_delay_seconds: int
    #: Backoff after the model server fails: base, doubled per consecutive failure, capped.
    backoff_base_seconds: float
    backoff_max_seconds: float
    #: How long a loop slot stays leased without a heartbeat: after a crash of the whole
    #: cluster the loop resumes once this has passed (the next scheduled tick).
    slot_lease_seconds: int
    #: Iterations at once, across every cluster (``BIZAGENT_LOOP_CONCURRENCY``).
    loop_concurrency: int
    #: Lost leases (dead workers) after which a task is blocked for a person.
    max_lease_losses: int
    #: Minutes between scheduled ticks (django-q2 schedules have minute resolution).
    tick_minutes: int
    #: After a tick that did work, enqueue the next tick at once instead of waiting for
    #: the schedule, so the loop runs continuously; the schedule remains the heartbeat.
    tick_chain: bool
    #: Prompt budget for the ideas part of the context (the rest is instructions).
    context_token_budget: int
    #: Recent ideator outputs compared for stagnation and listed for a shake-up.
    recent_directions: int
    #: Back off after this many iterations in a row whose answer was unusable (malformed,
    #: truncated, off-schema): each was billed, so a badly answering model must not run at
    #: full speed. 0 turns it off.
    bad_answers_backoff_after: int
    #: Tokens a person is asked to approve when the daily budget runs out, as a fraction
    #: of the daily budget.
    budget_extension_fraction: float

    @property
    def heartbeat_seconds(self) -> float:
        """How often a live worker renews its leases: three beats per shortest lease."""
        return min(self.lease_seconds, self.slot_lease_seconds) / 3


_cached: Conf | None = None


def conf() -> Conf:
    """The configuration, every value checked, read once and then reused.

    Raises ``ImproperlyConfigured`` naming the first bad variable (and keeps raising it:
    nothing is cached until every value is good).
    """
    global _cached
    if _cached is None:
        _cached = conf_read()
    return _cached


def conf_reset(**kwargs: Any) -> None:
    """Forget the cached configuration; the next ``conf()`` reads it again.

    Connected to ``setting_changed`` (``kwargs`` are the signal's), so tests that
    override a setting see it.
    """
    global _cached
    _cached = None


setting_changed.connect(conf_reset, dispatch_uid="goals.conf_reset")


def conf_read() -> Conf:
    """Read and check every value now (no cache). Raises ``ImproperlyConfigured``."""
    return Conf(
        lease_seconds=_int("GOALS_LEASE_SECONDS", 60, minimum=10, maximum=DAY),
        retry_delay_seconds=_int("GOALS_RETRY_DELAY_SECONDS", 30, minimum=0, maximum=DAY),
        backoff_base_seconds=_float("GOALS_BACKOFF_BASE_SECONDS", 15.0, minimum=0.0, maximum=DAY),
        backoff_max_seconds=_float("GOALS_BACKOFF_MAX_SECONDS", 600.0, minimum=0.0, maximum=DAY),
        slot_lease_seconds=_int("GOALS_SLOT_LEASE_SECONDS", 60, minimum=10, maximum=3600),
        loop_concurrency=_int("LOOP_CONCURRENCY", 1, minimum=1, maximum=64),
        max_lease_losses=_int("GOALS_MAX_LEASE_LOSSES", 5, minimum=1, maximum=1000),
        tick_minutes=_int("GOALS_TICK_MINUTES", 1, minimum=1, maximum=1440),
        tick_chain=_bool("GOALS_TICK_CHAIN", True),
        context_token_budget=_int(
            "GOALS_CONTEXT_TOKEN_BUDGET", 6000, minimum=500, maximum=1_000_000
        ),
        recent_directions=_int("GOALS_RECENT_DIRECTIONS", 8, minimum=1, maximum=200),
        bad_answers_backoff_after=_int(
            "GOALS_BAD_ANSWERS_BACKOFF_AFTER", 3, minimum=0, maximum=1000
        ),
        budget_extension_fraction=_float(
            "GOALS_BUDGET_EXTENSION_FRACTION", 0.25, minimum=0.01, maximum=100.0
        ),
    )
