"""The registry of actions a decision can run once approved.

A handler is ``handler(*, args: dict, decision: Decision) -> dict`` (a JSON-able
result). It runs after the approval commits, once, inside a transaction with the
status change, so its database writes and "applied" commit together. Apps register
their handlers at import (``goals.actions``, imported from ``GoalsConfig.ready``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ActionHandler = Callable[..., dict[str, Any] | None]

ACTIONS: dict[str, ActionHandler] = {}


class UnknownAction(LookupError):
    pass


def action_register(name: str) -> Callable[[ActionHandler], ActionHandler]:
    def decorator(handler: ActionHandler) -> ActionHandler:
        existing = ACTIONS.get(name)
        if existing is not None and existing is not handler:
            existing_name = f"{existing.__module__}.{existing.__qualname__}"
            new_name = f"{handler.__module__}.{handler.__qualname__}"
            if existing_name != new_name:  # a module reloaded is the same handler
                raise ValueError(f"action {name!r} is already registered to {existing_name}")
        ACTIONS[name] = handler
        return handler

    return decorator


def action_get(name: str) -> ActionHandler:
    try:
        return ACTIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIONS)) or "none"
        raise UnknownAction(f"unknown decision action {name!r}; registered: {known}") from None
