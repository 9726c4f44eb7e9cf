"""The four model roles of the loop, one module each, collected in one registry.

Adding a role is one module with a ``HANDLER`` (``goals.roles.base.RoleHandler``) and one
line in ``HANDLERS``; adding a kind to a role is one entry in its ``kinds``. The loop
(``goals.services``) looks roles up here and never branches on a role's name.

Each role's instructions and answer schema are constants, so the developer message is
byte-identical from one call of a role to the next (the theme's brand text comes first
and only changes with the theme): see ``goals.roles.base`` for the prompt order.
"""

from __future__ import annotations

import datetime as dt

from bizagent.llm.types import ChatRequest
from goals.models import Role
from goals.roles import critic, editor, ideator, planner
from goals.roles.base import (
    IDEA_FIELDS,
    MAX_IDEAS_PER_ANSWER,
    MAX_PLANNED_TASKS,
    SCORE_NAMES,
    RoleHandler,
    RoleSpec,
    TaskView,
    repair_message,
    request_build_for,
)
from goals.roles.base import role_instructions as _instructions_for

HANDLERS: dict[str, RoleHandler] = {
    handler.spec.name: handler
    for handler in (planner.HANDLER, ideator.HANDLER, critic.HANDLER, editor.HANDLER)
}

PLANNER = Role.PLANNER
IDEATOR = Role.IDEATOR
CRITIC = Role.CRITIC
EDITOR = Role.EDITOR
MODEL_ROLES: tuple[str, ...] = tuple(HANDLERS)
ROLE_SPECS: dict[str, RoleSpec] = {name: h.spec for name, h in HANDLERS.items()}
#: Which role does which task kind (and the planner's own turn, ``PLAN``).
ROLE_FOR_KIND: dict[str, str] = {
    kind: name for name, handler in HANDLERS.items() for kind in handler.kinds
}
PLANNABLE_KINDS = planner.PLANNABLE_KINDS
PLANNER_SCHEMA = planner.SCHEMA
IDEATOR_SCHEMA = ideator.SCHEMA
CRITIC_SCHEMA = critic.SCHEMA
EDITOR_SCHEMA = editor.SCHEMA


def role_instructions(role: str, *, brand_text: str) -> str:
    """The developer instructions for ``role``: the brand and ground rules, then its own."""
    return _instructions_for(ROLE_SPECS[role], brand_text=brand_text)


def request_build(
    *, role: str, brand_text: str, user: str, max_tokens: int, day: dt.date
) -> ChatRequest:
    """The request for ``role``: shared and constant text first, the task last."""
    return request_build_for(
        ROLE_SPECS[role], brand_text=brand_text, user=user, max_tokens=max_tokens, day=day
    )


__all__ = [
    "CRITIC",
    "CRITIC_SCHEMA",
    "EDITOR",
    "EDITOR_SCHEMA",
    "HANDLERS",
    "IDEATOR",
    "IDEATOR_SCHEMA",
    "IDEA_FIELDS",
    "MAX_IDEAS_PER_ANSWER",
    "MAX_PLANNED_TASKS",
    "MODEL_ROLES",
    "PLANNABLE_KINDS",
    "PLANNER",
    "PLANNER_SCHEMA",
    "ROLE_FOR_KIND",
    "ROLE_SPECS",
    "SCORE_NAMES",
    "TaskView",
    "repair_message",
    "request_build",
    "role_instructions",
]
