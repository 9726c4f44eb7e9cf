"""``ideas.selectors.ideas_visible`` written out reads exactly what its ORM form
did on the same rows: the theme's visible ideas among the IDs, in the given order,
deduplicated, every field converted the same way; and the few IDs are looked up by
primary key, not found by walking the theme's visible ideas. Run on SQLite and on PostgreSQL
(``DATABASE_URL=postgres://...``)."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection

from ideas.models import Idea
from ideas.selectors import ideas_visible
from tests.ideas.factories import ThemeFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

STATUSES = list(Idea.Status.values)


def _ideas(theme, n: int) -> list[Idea]:
    Idea.objects.bulk_create(
        [
            Idea(
                theme=theme,
                title=f"Idea {i} 茶",
                summary=f"Summary {i}",
                fingerprint=hashlib.sha256(f"{theme.pk} {i}".encode()).hexdigest(),
                priority=float(i % 5),
                brand_fit=float(i % 7) if i % 3 else None,
                status=STATUSES[i % len(STATUSES)],
            )
            for i in range(n)
        ]
    )
    return list(Idea.objects.filter(theme=theme).order_by("pk"))


def _orm(theme, ids):
    """The ORM form ``ideas_visible`` replaced, as it was."""
    if not ids:
        return []
    found = {
        idea.pk: idea
        for idea in Idea.objects.filter(
            theme=theme, pk__in=list(ids), status__in=Idea.VISIBLE_STATUSES
        )
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def _fields(idea: Idea) -> dict:
    return {field.attname: getattr(idea, field.attname) for field in Idea._meta.concrete_fields}


def test_the_visible_ideas_among_ids_are_what_the_orm_form_read(theme):
    ours = _ideas(theme, 20)
    others = _ideas(ThemeFactory(status="draft", activated_at=None), 5)
    ids = [ours[9].pk, ours[0].pk, others[0].pk, ours[9].pk, 10**9, *(i.pk for i in ours[3:14])]

    got = ideas_visible(theme_id=theme.pk, ids=ids)
    expected = _orm(theme, ids)

    assert [idea.pk for idea in got] == [idea.pk for idea in expected]
    assert [_fields(idea) for idea in got] == [_fields(idea) for idea in expected]
    assert {idea.status for idea in got} <= set(Idea.VISIBLE_STATUSES)
    assert len(got) >= 5
    assert ideas_visible(theme_id=theme.pk, ids=[]) == []


def test_the_ids_are_looked_up_by_primary_key_not_by_walking_the_theme(theme):
    ideas = _ideas(theme, 60)
    seen: list[tuple[str, object]] = []

    def record(execute, sql, params, many, context):
        seen.append((sql, params))  # a sequence, or a mapping (named on SQLite)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        # A plan names several IDs; from three on, SQLite's choice used to change.
        got = ideas_visible(theme_id=theme.pk, ids=[idea.pk for idea in ideas[:10]])

    assert got
    ((sql, params),) = seen
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "ideas_idea_pkey" in plan, plan
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = "\n".join(row[-1] for row in cursor.fetchall())
            # What SQLite chose with the theme and status in the statement: the
            # (theme, status, priority) index, every visible idea of the theme.
            assert "INTEGER PRIMARY KEY" in plan, plan
            assert "ideas_idea_priority" not in plan, plan
