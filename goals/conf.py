"""The loop's tunables, read once from settings with documented defaults.

Each value may be set in Django settings (``GOALS_*``) or, for operators, in the
environment under the same name with a ``BIZAGENT_`` prefix
(``BIZAGENT_GOALS_LEASE_SECONDS``); the environment is read through the strict helpers so
a wrong value names its variable.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from bizagent.env import env_bool, env_float, env_int


def _int(name: str, default: int, minimum: int) -> int:
    if hasattr(settings, name):
        return int(getattr(settings, name))
    return env_int(f"BIZAGENT_{name}", default, minimum=minimum)


def _float(name: str, default: float, minimum: float) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    return env_float(f"BIZAGENT_{name}", default, minimum=minimum)


def _bool(name: str, default: bool) -> bool:
    if hasattr(settings, name):
        return bool(getattr(settings, name))
    return env_bool(f"BIZAGENT_{name}", default)


@dataclass(frozen=True)
class Conf:
    #: How long a claimed task stays leased. It must outlast one iteration (a model call
    #: with its retries and a repair call), or a live worker loses its task to another.
    lease_seconds: int
    #: Seconds before a failed task may be claimed again, doubled per attempt.
    retry_delay_seconds: int
    #: Backoff after the model server fails: base, doubled per consecutive failure, capped.
    backoff_base_seconds: float
    backoff_max_seconds: float
    #: The tick lock's lifetime: longer than any iteration, so a crashed tick frees it.
    tick_lock_seconds: int
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


def conf() -> Conf:
    """The current configuration (read on every call so tests can override settings)."""
    lease = _int("GOALS_LEASE_SECONDS", int(settings.Q_TASK_TIMEOUT), minimum=10)
    return Conf(
        lease_seconds=lease,
        retry_delay_seconds=_int("GOALS_RETRY_DELAY_SECONDS", 30, minimum=0),
        backoff_base_seconds=_float("GOALS_BACKOFF_BASE_SECONDS", 15.0, minimum=0.0),
        backoff_max_seconds=_float("GOALS_BACKOFF_MAX_SECONDS", 600.0, minimum=0.0),
        tick_lock_seconds=_int("GOALS_TICK_LOCK_SECONDS", lease + 60, minimum=10),
        tick_minutes=_int("GOALS_TICK_MINUTES", 1, minimum=1),
        tick_chain=_bool("GOALS_TICK_CHAIN", True),
        context_token_budget=_int("GOALS_CONTEXT_TOKEN_BUDGET", 6000, minimum=500),
        recent_directions=_int("GOALS_RECENT_DIRECTIONS", 8, minimum=1),
        bad_answers_backoff_after=_int("GOALS_BAD_ANSWERS_BACKOFF_AFTER", 3, minimum=0),
        budget_extension_fraction=_float("GOALS_BUDGET_EXTENSION_FRACTION", 0.25, minimum=0.01),
    )
