"""The prompt stays bounded however large the portfolio grows."""

from __future__ import annotations

import hashlib

import pytest

from bizagent.llm.harmony import harmony_render
from goals.services import iteration_run, task_create
from ideas.models import Idea
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db


def _bulk_ideas(theme, count: int, start: int = 0) -> None:
    batch = []
    for n in range(start, start + count):
        title = f"Bulk idea {n}: seasonal goods for tired workers"
        batch.append(
            Idea(
                theme=theme,
                title=title,
                summary=f"Idea {n} summary: a calm product for commuters and night-shift nurses.",
                fingerprint=hashlib.sha256(title.lower().encode()).hexdigest(),
                brand_fit=float(n % 11),
                priority=float(n % 97),
            )
        )
        if len(batch) == 5000:
            Idea.objects.bulk_create(batch)
            batch = []
    Idea.objects.bulk_create(batch)


def _prompt_sizes(theme) -> dict[str, int]:
    client = StudioClient()
    task_create(theme=theme, kind="generate", priority=90)
    task_create(theme=theme, kind="meta_review", priority=95)
    for _ in range(3):  # meta review (planner), generate (ideator), critique (critic)
        assert iteration_run(worker="w", scheduled=False, client=client).ran
    return {
        request.instructions.split("\n", 1)[0]: len(harmony_render(request))
        for request in client.requests
    }


def test_the_prompt_is_bounded_at_100000_ideas(theme):
    _bulk_ideas(theme, 1_000)
    small = _prompt_sizes(theme)
    _bulk_ideas(theme, 99_000, start=1_000)
    assert Idea.objects.filter(theme=theme).count() >= 100_000
    large = _prompt_sizes(theme)
    for role, tokens in large.items():
        # The context budget (6,000) plus the role's instructions and the task text.
        assert tokens < 12_000, (role, tokens)
        assert tokens < small[role] * 1.3, (role, tokens, small[role])
