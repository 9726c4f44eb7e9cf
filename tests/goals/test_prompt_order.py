"""Prompt order (issue 8): most shared first, so a prefix-caching server reuses it.

Measured over HTTP against the fake gpt-oss server, which renders nothing itself: it
tokenises what the client sent, and the loop records the prefix each call shares with
the previous call of the same role (``Iteration.prefix_shared_tokens``).
"""

from __future__ import annotations

import pytest

from goals.services import iteration_run
from goals.stats import shared_prefix_length
from tests.goals.studio import Studio
from tests.goals.test_loop_e2e import fake, studio_responder  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

ROLES = ("planner", "ideator", "critic", "editor")


def _role(text: str) -> str:
    return next(role for role in ROLES if f"You are the {role}" in text)


def test_calls_of_different_roles_share_the_theme(theme, fake):  # noqa: F811
    fake.responder = studio_responder(Studio())
    for _ in range(6):
        iteration_run(worker="w", scheduled=False)
    first = {}
    for request in fake.requests:
        first.setdefault(_role(request.prompt_text), request)
    assert len(first) >= 3
    planner = first["planner"].prompt_token_ids
    # Before, the theme sat after each role's own instructions: 1-2% shared across roles.
    for role, request in first.items():
        if role != "planner" and role != "editor":  # the editor reasons "low": its system
            shared = shared_prefix_length(planner, request.prompt_token_ids)  # line differs
            assert shared > 0.5 * len(request.prompt_token_ids), role
