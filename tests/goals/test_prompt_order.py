"""Prompt order (issue 8): most shared first, so a prefix-caching server reuses it.

Measured over HTTP against the fake gpt-oss server, which renders nothing itself: it
tokenises what the client sent, and the loop records the prefix each call shares with
the previous call of the same role (``Iteration.prefix_shared_tokens``).
"""

from __future__ import annotations

import pytest

from goals.models import Iteration
from goals.services import iteration_run
from goals.stats import shared_prefix_length
from goals.work import context_epoch
from tests.goals.factories import IdeaFactory
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


def _shares_within_epoch(theme, epoch_of) -> dict[str, float]:
    """Per role, the prompt tokens shared with the previous call of the same role over
    all its prompt tokens, counting the calls whose previous call is in the same epoch."""
    shared: dict[str, int] = {}
    total: dict[str, int] = {}
    previous: dict[str, int] = {}
    for it in Iteration.objects.filter(theme=theme, prompt_tokens__gt=0).order_by("number"):
        epoch = epoch_of(it.number)
        if previous.get(it.role) == epoch:
            shared[it.role] = shared.get(it.role, 0) + it.prefix_shared_tokens
            total[it.role] = total.get(it.role, 0) + it.prompt_tokens
        previous[it.role] = epoch
    return {role: shared[role] / total[role] for role in total}


def _portfolio(theme, n: int) -> None:
    """A studio that has been running a while: ``n`` scored ideas."""
    for i in range(n):
        IdeaFactory(
            theme=theme,
            title=f"Seasonal {('mug', 'plush', 'tote bag', 'tea set')[i % 4]} no. {i}",
            tags=[("mug", "plush", "tote", "tea")[i % 4], ("spring", "autumn", "new-year")[i % 3]],
            brand_fit=float(3 + i % 7),
            novelty=float(2 + i % 8),
            feasibility=float(4 + i % 6),
        )


def test_calls_within_an_epoch_share_most_of_their_prompt(theme, fake):  # noqa: F811
    """Within a portfolio epoch the critic, the editor and the planner share at least
    90% of each prompt with their previous call (here about 0.91, 0.94 and 0.90): the
    portfolio block no longer changes per task, the planner's best ideas in full are the
    epoch's first rendering, their new scores in a short section, and what every call of
    a role asks comes before the request, whose kind-specific ask, statistics and ideas
    come last.

    The ideator (~0.84) is short of the 90% the issue aims at on this run: its one pair
    in an epoch is an explore call followed by a deepen call, which alone carries five
    ideas in full. ``benchmarks/loop.py`` prints every role's figure (the ideator about
    95% there).
    """
    _portfolio(theme, 40)
    fake.responder = studio_responder(Studio())
    for _ in range(40):
        iteration_run(worker="w", scheduled=False)
    shares = _shares_within_epoch(theme, context_epoch)
    assert set(shares) == set(ROLES)
    assert shares["critic"] >= 0.90, shares
    assert shares["editor"] >= 0.90, shares
    assert shares["planner"] >= 0.90, shares
