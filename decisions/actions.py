"""The registry of actions a decision can run once approved.

A handler is ``handler(*, args: dict, decision: Decision) -> dict`` (a JSON-able
result). It runs after the approval commits, once, inside a transaction with the
status change, so its database writes and "applied" commit together. Apps register
their handlers at import (``goals.actions``, imported from ``GoalsConfig.ready``).

Two optional facts about an action, given at registration:

* ``idempotent``: running it again with the same arguments does no harm. When the
  worker running it dies mid-action (its lease lapses), the governance tick re-runs an
  idempotent action; any other action's decision fails for a person to look at.
* ``premise``: ``premise(args) -> str | None``, the reason the world no longer is what
  the decision assumed (e.g. "the explore ratio is now 0.31, not 0.60"), or None while
  it still is. Checked when a person approves and again right before the action runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

ActionHandler = Callable[..., dict[str, Any] | None]
PremiseCheck = Callable[[dict[str, Any]], str | None]

ACTIONS: dict[str, ActionHandler] = {}


@dataclass(frozen=True)
class ActionSpec:
    """What the registry knows about one action besides its handler."""

    handler: ActionHandler
    idempotent: bool = False
    premise: PremiseCheck | None = None


ACTION_SPECS: dict[str, ActionSpec] = {}


class UnknownAction(LookupError):
    pass


def action_register(
    name: str, *, idempotent: bool = False, premise: PremiseCheck | None = None
) -> Callable[[ActionHandler], ActionHandler]:
    def decorator(handler: ActionHandler) -> ActionHandler:
        existing = ACTIONS.get(name)
        if existing is not None and existing is not handler:
            existing_name = f"{existing.__module__}.{existing.__qualname__}"
            new_name = f"{handler.__module__}.{handler.__qualname__}"
            if existing_name != new_name:  # a module reloaded is the same handler
                raise ValueError(f"action {name!r} is already registered to {existing_name}")
        ACTIONS[name] = handler
        ACTION_SPECS[name] = ActionSpec(handler=handler, idempotent=idempotent, premise=premise)
        return handler

    return decorator


def action_get(name: str) -> ActionHandler:
    return action_spec(name).handler


def action_spec(name: str) -> ActionSpec:
    try:
        handler = ACTIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIONS)) or "none"
        raise UnknownAction(f"unknown decision action {name!r}; registered: {known}") from None
    spec = ACTION_SPECS.get(name)
    # A handler put into ACTIONS directly (not through action_register) has no facts.
    return spec if spec is not None and spec.handler is handler else ActionSpec(handler=handler)


def action_premise_failure(name: str, args: dict[str, Any]) -> str | None:
    """Why the premise of ``name`` with ``args`` no longer holds, or None when it does."""
    try:
        premise = action_spec(name).premise
    except UnknownAction:
        return None  # the caller reports an unknown action itself
    return premise(dict(args)) if premise is not None else None
