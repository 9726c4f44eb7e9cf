"""``ideas.selectors.epoch_memo``: a process remembers an epoch's portfolio block, task
block and overlap window once it read them from the shared cache or added them there, so
a later call of the epoch reads no cache row, and workers (a cleared memo stands for a
fresh one) still agree on the one value the cache holds."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

import ideas.selectors
from ideas.context import PortfolioBlock, context_build, portfolio_block_get
from ideas.selectors import EpochMemo, epoch_memo, overlap_window_get
from tests.ideas.factories import IdeaFactory

pytestmark = pytest.mark.django_db

CAP = 3000
CACHE_TABLE = "bizagent_cache"


def _cache_statements(seen: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in seen.captured_queries if CACHE_TABLE in q["sql"]]


def test_a_second_call_of_the_epoch_reads_no_cache_row(theme):
    for n in range(5):
        IdeaFactory(theme=theme, priority=float(n), tags=["mug"])
    with CaptureQueriesContext(connection) as first_seen:
        first = portfolio_block_get(theme=theme, epoch=1, token_cap=CAP)
    assert _cache_statements(first_seen)  # read, then added
    with CaptureQueriesContext(connection) as seen:
        again = portfolio_block_get(theme=theme, epoch=1, token_cap=CAP)
    assert len(seen) == 0
    assert again is first
    with CaptureQueriesContext(connection) as seen:
        portfolio_block_get(theme=theme, epoch=2, token_cap=CAP)  # a new epoch: its own
    assert _cache_statements(seen)


def test_two_workers_agree_on_the_block_the_cache_holds(theme):
    for n in range(5):
        IdeaFactory(theme=theme, priority=float(n))
    first = portfolio_block_get(theme=theme, epoch=7, token_cap=CAP)
    IdeaFactory(theme=theme, priority=99.0, title="A new best idea")  # the top moves
    epoch_memo.clear()  # another worker
    other = portfolio_block_get(theme=theme, epoch=7, token_cap=CAP)
    assert other == first
    assert "A new best idea" not in other.text
    assert "A new best idea" in portfolio_block_get(theme=theme, epoch=8, token_cap=CAP).text


def test_a_worker_that_lost_the_race_remembers_the_winners_block(theme, monkeypatch):
    for n in range(3):
        IdeaFactory(theme=theme, priority=float(n))
    winner = portfolio_block_get(theme=theme, epoch=4, token_cap=CAP)
    IdeaFactory(theme=theme, priority=99.0, title="Rendered by the loser")
    epoch_memo.clear()
    # The loser read the cache before the winner added its block: it renders its own,
    # its add fails, and it takes the winner's.
    original, misses = cache.get, []

    def get(key, *args, **kwargs):
        if not misses:
            misses.append(key)
            return None
        return original(key, *args, **kwargs)

    monkeypatch.setattr(ideas.selectors.cache, "get", get)
    lost = portfolio_block_get(theme=theme, epoch=4, token_cap=CAP)
    assert misses and lost == winner
    with CaptureQueriesContext(connection) as seen:
        again = portfolio_block_get(theme=theme, epoch=4, token_cap=CAP)
    assert len(seen) == 0 and again == winner
    assert "Rendered by the loser" not in again.text


def test_the_task_block_and_the_overlap_window_are_remembered_too(theme):
    ideas_ = [IdeaFactory(theme=theme, priority=float(n), tags=["mug", "tea"]) for n in range(6)]

    def build():
        return context_build(
            theme=theme,
            role="planner",
            focus_ideas=ideas_[-3:],
            token_budget=8000,
            epoch=5,
            focus_per_epoch=True,
        )

    first = build()
    with CaptureQueriesContext(connection) as seen:
        later = build()
    assert later.ideas_text == first.ideas_text
    assert _cache_statements(seen) == []
    window = overlap_window_get(theme=theme, epoch=5)
    with CaptureQueriesContext(connection) as seen:
        assert overlap_window_get(theme=theme, epoch=5) is window
    assert len(seen) == 0
    epoch_memo.clear()  # another worker: the cache's task block, the same bytes
    assert build().ideas_text == first.ideas_text


def test_the_memo_is_bounded_and_forgets_the_least_recently_used(db):
    memo = EpochMemo(size=2)
    for key in ("a", "b"):
        assert memo.add(
            f"test:memo:{key}", PortfolioBlock(text=key, idea_ids=(), token_count=1), 60
        )
    memo.get("test:memo:a", PortfolioBlock)  # used: "b" is now the oldest
    memo.add("test:memo:c", PortfolioBlock(text="c", idea_ids=(), token_count=1), 60)
    cache.delete_many(["test:memo:a", "test:memo:b", "test:memo:c"])
    assert memo.get("test:memo:a", PortfolioBlock) is not None
    assert memo.get("test:memo:c", PortfolioBlock) is not None
    assert memo.get("test:memo:b", PortfolioBlock) is None  # forgotten, and gone from the cache
