"""The prompt and the queries of an iteration do not grow with the portfolio.

Three iterations (meta review: planner, generate: ideator, critique: critic) run on 500
and on 5,000 ideas, each inside a savepoint that is rolled back so both start from the
same state. Every role's prompt has the same size up to the digits of the portfolio's
counts, and each iteration makes the same number of queries. The 100,000-idea run lives
in ``benchmarks/prompt_size.py``.
"""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from bizagent.llm.harmony import harmony_render
from goals.models import Iteration
from goals.services import iteration_run, task_create
from ideas.models import Idea
from ideas.services import portfolio_counters_rebuild
from tests.goals.studio import StudioClient

pytestmark = pytest.mark.django_db

# "ideas: 500" and "ideas: 5000" tokenise differently, as do the other counts of the
# planner's portfolio statistics; nothing else may differ.
COUNT_DIGITS_SLACK = 12


def _bulk_ideas(theme, count: int, start: int = 0, priority_offset: float = 0.0) -> None:
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
                priority=float(n % 97) + priority_offset,
            )
        )
        if len(batch) == 5000:
            Idea.objects.bulk_create(batch)
            batch = []
    Idea.objects.bulk_create(batch)
    # Inserted around the services: recount what portfolio_stats reads.
    portfolio_counters_rebuild(theme=theme)


def _iterations(theme, ideas: int) -> tuple[dict[str, int], list[int]]:
    """Prompt tokens per role and queries per iteration, on a portfolio of ``ideas``.

    The first 500 ideas are the same every time and the rest rank below them, so the
    model is shown the same ideas and answers the same: what could differ is only what
    the portfolio's size does to the prompt and to the queries.
    """
    with transaction.atomic():
        _bulk_ideas(theme, 500)
        _bulk_ideas(theme, ideas - 500, start=500, priority_offset=-100.0)
        client = StudioClient()
        task_create(theme=theme, kind="generate", priority=90)
        task_create(theme=theme, kind="meta_review", priority=95)
        queries = []
        for _ in range(3):  # meta review (planner), generate (ideator), critique (critic)
            with CaptureQueriesContext(connection) as captured:
                assert iteration_run(worker="w", scheduled=False, client=client).ran
            queries.append(len(captured))
        # One call per iteration (the studio answers well), in the iterations' order.
        roles = list(Iteration.objects.order_by("number").values_list("role", flat=True))
        assert len(roles) == len(client.requests) == 3
        tokens = {
            role: len(harmony_render(request))
            for role, request in zip(roles, client.requests, strict=True)
        }
        transaction.set_rollback(True)
    return tokens, queries


def test_the_prompt_and_the_queries_are_the_same_at_500_and_5000_ideas(theme):
    _iterations(theme, 500)  # warm the process-wide caches (content types, vocab)
    small_tokens, small_queries = _iterations(theme, 500)
    large_tokens, large_queries = _iterations(theme, 5_000)
    assert large_queries == small_queries
    assert large_tokens.keys() == small_tokens.keys() and len(small_tokens) == 3
    for role, tokens in large_tokens.items():
        # The context budget (6,000) plus the role's instructions and the task text.
        assert tokens < 12_000, (role, tokens)
        assert abs(tokens - small_tokens[role]) <= COUNT_DIGITS_SLACK, (role, small_tokens, tokens)
