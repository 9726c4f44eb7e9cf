"""Shared by the role persisters (``goals.roles.<role>.persist``).

Each persister runs inside the iteration's transaction (``goals.services.record``) and
returns a small summary that is stored on the Iteration. Ideas go through
``ideas.services``, which dedupes by fingerprint and refuses taboo or illegal content;
tasks go through ``task_create``, which dedupes open work by key.
"""

from __future__ import annotations

from collections.abc import Sequence

from bizagent.sql import (
    column,
    columns,
    models_from_rows,
    placeholders,
    rows_fetch,
    statement,
    table,
)
from ideas.models import Idea, Theme

#: Priorities of the follow-up work the loop queues by itself (the planner uses 1–100).
PRIORITY_CRITIQUE_NEW = 60
PRIORITY_REFINE = 55
PRIORITY_SHAKE_UP = 90
PRIORITY_SNAPSHOT = 100
PRIORITY_META_REVIEW = 95
PRIORITY_FALLBACK_GENERATE = 40


@statement
def _ideas_visible_head() -> str:
    return (
        f"SELECT {columns(Idea)} FROM {table(Idea)} WHERE {column(Idea, 'theme')} = %s "  # noqa: S608 - names from model metadata
        f"AND {column(Idea, 'status')} IN ({placeholders(len(Idea.VISIBLE_STATUSES))}) "
        f"AND {column(Idea, 'id')} IN "
    )


def ideas_visible(theme: Theme, ids: Sequence[int]) -> list[Idea]:
    """The visible ideas of ``theme`` among ``ids``, in the given order, deduplicated.

    Written out (read by the ideator's and the planner's persisters on every answer):
    what ``Idea.objects.filter(theme=, pk__in=, status__in=VISIBLE)`` read, without the
    ORM's build of it (~10x the statement); the IDs prepared as that filter prepares
    them (``int``)."""
    if not ids:
        return []
    wanted = list(dict.fromkeys(int(i) for i in ids))
    sql = _ideas_visible_head() + "(" + placeholders(len(wanted)) + ")"
    rows = rows_fetch(sql, [theme.pk, *(str(status) for status in Idea.VISIBLE_STATUSES), *wanted])
    found = {idea.pk: idea for idea in models_from_rows(Idea, rows)}
    return [found[i] for i in dict.fromkeys(ids) if i in found]
