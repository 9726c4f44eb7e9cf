"""The portfolio's running totals (``PortfolioCounters``, ``Tag.visible_ideas``).

Every idea write in ``ideas.services`` describes what it changed as the idea's counted
state before and after (``counted``), and ``counters_move`` adds the difference to the
theme's row in the same transaction, by relative updates (``c = c + delta``): one UPDATE
for the theme's row and one per distinct tag delta, however many ideas the batch wrote. Two
writers that move the same counter add up; neither reads the row first.

The scan (``ideas.selectors.portfolio_counts_scan``) is the definition of every counter:
``portfolio_counters_rebuild`` recounts from it, and whoever inserts ideas around the
services (test factories, benchmarks, a data migration) calls that afterwards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from bizagent import sql
from bizagent.sql import placeholders, rows_update
from ideas.models import SCORE_FIELDS, Idea, PortfolioCounters, Tag, Theme
from ideas.selectors import portfolio_counts_scan

_FLOAT_SUFFIXES = ("_sum", "_sq")


@dataclass(frozen=True)
class Counted:
    """What of one idea the counters count: its status, review and effective scores."""

    status: str
    reviewed: bool
    human_corrected: bool
    scores: tuple[float | None, ...]

    @property
    def visible(self) -> bool:
        return self.status in Idea.VISIBLE_STATUSES

    def contribution(self) -> dict[str, float]:
        """This idea's share of each ``PortfolioCounters`` column."""
        share: dict[str, float] = defaultdict(float, {self.status: 1})
        if not self.visible:
            return share
        share["visible_human_corrected"] += int(self.human_corrected)
        share["visible_reviewed_at"] += int(self.reviewed)
        for name, value in zip(SCORE_FIELDS, self.scores, strict=True):
            if value is not None:
                share[f"{name}_n"] += 1
                share[f"{name}_sum"] += value
                share[f"{name}_sq"] += value * value
        return share


def counted(idea: Idea) -> Counted:
    """The counted state of ``idea`` as it is in memory now."""
    return Counted(
        status=idea.status,
        reviewed=idea.reviewed_at is not None,
        human_corrected=idea.is_human_corrected,
        scores=tuple(idea.effective_scores()[name] for name in SCORE_FIELDS),
    )


def counters_move(
    *,
    theme_id: int,
    changes: Iterable[tuple[Counted | None, Counted | None]] = (),
    tags: Mapping[int, int] | None = None,
    refusals: int = 0,
) -> None:
    """Add what ``changes`` (before, after; None: absent) did to the theme's counters.

    ``tags``: tag id → change in the number of visible ideas carrying it. Call it inside
    the transaction of the write, after the write, so a theme without a counters row yet
    is recounted with the write included. A row is moved even when nothing it counts
    changed, so the writes of a theme are serialised on it the same way every time.
    """
    delta: dict[str, float] = defaultdict(float)
    for before, after in changes:
        for state, sign in ((after, 1), (before, -1)):
            if state is not None:
                for name, value in state.contribution().items():
                    delta[name] += sign * value
    delta["refusals"] += refusals
    columns = {
        # Counts stay integers (PostgreSQL would make ``integer + 1.0`` a numeric).
        name: value if name.endswith(_FLOAT_SUFFIXES) else round(value)
        for name, value in delta.items()
        if value
    }
    tag_moves = {pk: n for pk, n in (tags or {}).items() if n}
    if not columns and not tag_moves:
        return
    if not transaction.get_connection().in_atomic_block:
        # Outside the write's transaction a crash between the two could lose the move.
        raise RuntimeError("counters_move belongs in the transaction of the idea write")
    if not _counters_add(theme_id=theme_id, columns=columns):
        try:
            with transaction.atomic():
                _counters_recount(theme_id)
            return  # the recount saw this write, tags included
        except IntegrityError:
            # A concurrent first writer created the row since: add to it instead.
            _counters_add(theme_id=theme_id, columns=columns)
    by_delta: dict[int, list[int]] = defaultdict(list)
    for pk, n in sorted(tag_moves.items()):
        by_delta[n].append(pk)
    for n, pks in by_delta.items():
        _tags_add(pks=pks, n=n)


@sql.statement
def _tags_add_sql() -> str:
    visible = sql.column(Tag, "visible_ideas")
    return (
        f"UPDATE {sql.table(Tag)} SET {visible} = {visible} + %s "  # noqa: S608 - model names
        f"WHERE {sql.column(Tag, 'id')} IN"
    )


def _tags_add(*, pks: list[int], n: int) -> int:
    """``Tag.objects.filter(pk__in=pks).update(visible_ideas=F("visible_ideas") + n)``,
    written out (every idea write with tags makes it; the ORM's form cost several times
    the statement). How many rows it changed."""
    marks = placeholders(len(pks))
    return sql.rows_execute(f"{_tags_add_sql()} ({marks})", [n, *pks])


def _counters_add(*, theme_id: int, columns: Mapping[str, float]) -> int:
    """``UPDATE … SET c = c + delta, …, writes = writes + 1`` on the theme's row; returns
    the number of rows changed (0: no row yet).

    The statement every idea write of the loop makes, written out: the ORM's form (an
    ``F() + value`` expression resolved and compiled per column) cost several times the
    statement's own execution. Only column names of the model and bound values go in.
    """
    return rows_update(PortfolioCounters, where={"theme": theme_id}, add={**columns, "writes": 1})


def tags_of(idea_ids: Iterable[int]) -> dict[int, list[int]]:
    """Tag ids per idea id, for moves of ideas in or out of sight (one query)."""
    found: dict[int, list[int]] = defaultdict(list)
    ids = list(idea_ids)
    if ids:
        for idea_id, tag_id in Idea.tags.through.objects.filter(idea_id__in=ids).values_list(
            "idea_id", "tag_id"
        ):
            found[idea_id].append(tag_id)
    return found


def _counters_recount(theme_id: int) -> PortfolioCounters:
    counts = portfolio_counts_scan(theme_id=theme_id)
    row = PortfolioCounters(theme_id=theme_id, rebuilt_at=timezone.now(), **counts)
    row.save(force_insert=True)
    # django-stubs does not see annotations on an auto-created through model.
    carrying = (
        Idea.tags.through.objects.filter(  # type: ignore[misc]
            tag_id=OuterRef("pk"), idea__status__in=Idea.VISIBLE_STATUSES
        )
        .values("tag_id")
        .annotate(n=Count("idea_id"))
        .values("n")
    )
    Tag.objects.filter(theme_id=theme_id).update(
        visible_ideas=Coalesce(Subquery(carrying), Value(0), output_field=IntegerField())
    )
    return row


def portfolio_counters_rebuild(*, theme: Theme) -> PortfolioCounters:
    """Recount the theme's portfolio counters from its ideas (one scan), and return them.

    For whoever wrote ideas around the services: bulk inserts in tests and benchmarks,
    data migrations, a repair. Locks the row for the recount, so a concurrent service
    write waits for it and then adds its own change to the recounted figures.
    """
    with transaction.atomic():
        PortfolioCounters.objects.filter(theme_id=theme.pk).select_for_update().delete()
        return _counters_recount(theme.pk)
