"""The portfolio reads of every iteration are served by indexes, in the database's own words.

Each selector runs against a small portfolio while the SQL it sends is recorded; each
statement is then explained (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL with
sequential scans and sorts priced out, so the plan shows whether an index *can* serve
the query). A sort of every visible idea ("USE TEMP B-TREE FOR ORDER BY", a Sort node)
or a full scan of the ideas table is what made 100,000 ideas cost 2.8x 1,000.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from ideas.context import context_build
from ideas.models import Idea, Tag
from ideas.selectors import (
    idea_context_candidates,
    ideas_corrected,
    portfolio_stats,
    priority_ideas,
)
from ideas.services import portfolio_counters_rebuild

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def _portfolio(theme, n: int = 300) -> list[Idea]:
    tags = Tag.objects.bulk_create([Tag(theme=theme, name=f"t{i}") for i in range(12)])
    statuses = [*Idea.VISIBLE_STATUSES, Idea.Status.ARCHIVED, Idea.Status.REFUSED]
    Idea.objects.bulk_create(
        [
            Idea(
                theme=theme,
                title=f"Plan idea {i}",
                summary=f"Idea {i}: a calm product for tired workers.",
                fingerprint=hashlib.sha256(f"plan idea {i}".encode()).hexdigest(),
                brand_fit=float(i % 11),
                human_brand_fit=float(i % 7) if i % 40 == 0 else None,
                reviewed_at=timezone.now() if i % 50 == 0 else None,
                priority=float(i % 13),
                status=statuses[i % len(statuses)],
            )
            for i in range(n)
        ]
    )
    ideas = list(Idea.objects.filter(theme=theme).order_by("pk"))
    through = Idea.tags.through
    through.objects.bulk_create(
        [through(idea_id=idea.pk, tag_id=tags[idea.pk % 12].pk) for idea in ideas]
    )
    ideas[0].related.add(ideas[1], ideas[2])
    portfolio_counters_rebuild(theme=theme)  # inserted around the services
    return ideas


@contextmanager
def _statements():
    """Every (sql, params) sent to the database inside the block."""
    seen: list[tuple[str, Any]] = []

    def record(execute, sql, params, many, context):
        # A sequence, or a mapping (``bizagent.sql`` names its parameters on SQLite).
        seen.append((sql, params if isinstance(params, Mapping) else tuple(params or ())))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def _plan(sql: str, params: Any) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute("EXPLAIN " + sql, params)
            return "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(row[-1] for row in cursor.fetchall())


def _sorts_or_scans_ideas(plan: str) -> list[str]:
    if connection.vendor == "postgresql":
        bad = ("Sort", "Seq Scan on ideas_idea ")
        # An index scan or (with other statistics) a bitmap scan of the partial index.
        if (
            "using ideas_idea_corrected on ideas_idea" in plan
            or "Bitmap Index Scan on ideas_idea_corrected" in plan
        ):
            # PostgreSQL's DESC index keys put NULLs first and Django cannot spell
            # "DESC NULLS LAST" in an index SQLite also accepts: the corrections sort
            # the rows of their partial index, i.e. the few ideas people corrected.
            bad = ("Seq Scan on ideas_idea ",)
    else:
        bad = ("USE TEMP B-TREE FOR ORDER BY", "RIGHT PART OF ORDER BY")
        # "SCAN ideas_idea USING INDEX x" walks an index in the ORDER BY's order and
        # stops at the LIMIT; a bare "SCAN ideas_idea" reads the whole table.
        if any(line.strip() == "SCAN ideas_idea" for line in plan.splitlines()):
            return ["SCAN ideas_idea"]
    return [line for line in plan.splitlines() if any(b in line for b in bad)]


def _ordered_idea_reads(statements) -> list[tuple[str, tuple]]:
    return [
        (sql, params)
        for sql, params in statements
        if sql.lstrip().upper().startswith("SELECT")
        and 'FROM "ideas_idea"' in sql
        and "ORDER BY" in sql
        and "LIMIT" in sql
    ]


def _assert_served_by_indexes(statements) -> None:
    reads = _ordered_idea_reads(statements)
    assert reads, "nothing was read from the ideas table"
    for sql, params in reads:
        plan = _plan(sql, params)
        assert not _sorts_or_scans_ideas(plan), f"{sql}\n{plan}"


def test_priority_ideas_walk_an_index_in_order(theme):
    _portfolio(theme)
    with _statements() as seen:
        top = priority_ideas(theme=theme, limit=12)
    assert len(top) == 12
    _assert_served_by_indexes(seen)


def test_the_corrections_walk_a_partial_index_in_order(theme):
    _portfolio(theme)
    with _statements() as seen:
        corrected = ideas_corrected(theme=theme, limit=8)
    assert corrected and all(i.reviewed_at or i.human_brand_fit is not None for i in corrected)
    _assert_served_by_indexes(seen)


def test_context_candidates_walk_the_priority_index(theme):
    ideas = _portfolio(theme)
    with _statements() as seen:
        found = idea_context_candidates(theme=theme, focus_ideas=ideas[:3], limit=40)
        context_build(theme=theme, role="planner", focus_ideas=ideas[:3], token_budget=6000)
    assert len(found) == 40
    _assert_served_by_indexes(seen)


def test_portfolio_stats_reads_counters_and_a_bounded_sample(theme):
    _portfolio(theme)
    with _statements() as seen:
        stats = portfolio_stats(theme=theme)
    assert stats["ideas"] == 180 and stats["by_status"]["archived"] == 60
    assert stats["top_tags"] and stats["sample_size"] == 180
    # No aggregate walks the theme's ideas or their tags: the counters hold the figures,
    # and the sample of the newest ideas reads an index in order up to its LIMIT.
    whole = [
        sql
        for sql, _ in seen
        if ('FROM "ideas_idea"' in sql or 'FROM "ideas_idea_tags"' in sql) and "LIMIT" not in sql
    ]
    assert not whole, whole
    _assert_served_by_indexes(seen)
    tag_reads = [(sql, params) for sql, params in seen if 'FROM "ideas_tag"' in sql]
    assert tag_reads
    for sql, params in tag_reads:
        plan = _plan(sql, params)
        assert "TEMP B-TREE" not in plan and "Sort" not in plan, f"{sql}\n{plan}"


def test_the_admin_idea_list_reads_its_first_page_from_an_index(theme, client, alice):
    _portfolio(theme)
    client.force_login(alice)
    with _statements() as seen:
        assert client.get("/admin/ideas/idea/").status_code == 200
    _assert_served_by_indexes(seen)
