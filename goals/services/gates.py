"""Gates: why this tick does no work (paused, stopped, backing off, out of budget)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from goals.models import LoopState
from goals.selectors import tokens_granted_today, tokens_used_today
from goals.services.governance import token_budget_decision_request
from ideas.models import Theme


@dataclass(frozen=True)
class Gate:
    """Why this tick does no work, and how long until it might."""

    status: str
    detail: str = ""
    wait_seconds: float = 0.0


NO_THEME = Gate("no_theme", "no active theme: load one with `manage.py newtheme`", 60.0)


def loop_gate(*, state: LoopState, scheduled: bool, now: dt.datetime) -> Gate | None:
    """None when the loop may work now, else why not.

    The scheduled loop runs only when started; the foreground ``runloop`` ignores a
    stopped scheduled loop but obeys a pause. Both wait out a backoff; the duty cycle's
    rest is kept per loop slot and waited out there (``goals.services.slots``).
    """
    if state.state == LoopState.State.PAUSED:
        return Gate("paused", state.reason or "paused")
    if scheduled and state.state == LoopState.State.STOPPED:
        return Gate("stopped", state.reason or "stopped: run `manage.py runloop start`")
    if state.backoff_until and state.backoff_until > now:
        wait = (state.backoff_until - now).total_seconds()
        return Gate("backing_off", state.reason or state.last_error, wait)
    return None


def budget_gate(*, theme: Theme, now: dt.datetime, used: int | None = None) -> Gate | None:
    """None while today's tokens are within the budget plus approved grants; past it, a
    decision is requested (once: the request is idempotent) and the loop spends nothing.

    ``used``: today's tokens when the caller read them already (with the theme)."""
    if used is None:
        used = tokens_used_today(theme=theme, now=now)
    if used < theme.daily_token_budget:
        return None  # within the budget alone: grants only add to it, no need to read them
    allowed = theme.daily_token_budget + tokens_granted_today(theme=theme, now=now)
    if used < allowed:
        return None
    decision = token_budget_decision_request(theme=theme, used=used, allowed=allowed, now=now)
    if decision is None:  # policy granted more tokens without asking
        return None
    detail = (
        f"daily token budget used: {used:,} of {allowed:,} tokens; "
        f"waiting for decision #{decision.pk}"
    )
    return Gate("budget", detail, 60.0)
