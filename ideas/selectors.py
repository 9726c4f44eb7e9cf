"""Reads of the portfolio. Every query here is bounded: a LIMIT or an aggregate.

Nothing the loop calls here loads the whole portfolio, so the cost of a call is the
same with 10 ideas and with 100,000. The ``*_scan`` functions are the exception: they
define what the portfolio counters hold, and only a recount runs them.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, F, FloatField, Q, Sum
from django.db.models.functions import Coalesce

from bizagent.sql import (
    column,
    columns,
    models_from_rows,
    placeholders,
    rows_fetch,
    statement,
    table,
)
from ideas.models import (
    SCORE_FIELDS,
    Idea,
    IdeaChange,
    IdeaRefusal,
    PortfolioCounters,
    Snapshot,
    Tag,
    Theme,
)
from ideas.stats import brand_drift, diversity, repetition

# The newest ideas the pairwise text measures look at (200 ideas = 19,900 pairs).
STATS_SAMPLE = 200
SNAPSHOT_TOP = 30
# Tag overlap is looked for among this many of the highest-priority ideas.
OVERLAP_WINDOW = 2000
#: An overlap window outlives its epoch only by this much (an epoch is ten iterations).
OVERLAP_CACHE_SECONDS = 24 * 3600
#: How many epoch values (blocks, windows) each process remembers in front of the cache.
EPOCH_MEMO_SIZE = 64

V = TypeVar("V")


class EpochMemo:
    """A per-process memory in front of the shared cache, for keys whose value never
    changes once ``cache.add`` put it there (an epoch's portfolio block, task block and
    overlap window: the first writer wins and every caller uses what the cache holds).

    A later call of the epoch then skips the cache read and the unpickling. Workers keep
    agreeing because only what the cache returned or what this process successfully
    ``add``ed is remembered, never a value that lost the race. Bounded: the least
    recently used keys go first. (A cache cleared by hand is not seen until the epoch
    moves on; the values are as of their epoch's start either way.)
    """

    def __init__(self, size: int = EPOCH_MEMO_SIZE) -> None:
        self._size = size
        self._values: OrderedDict[str, object] = OrderedDict()
        self._lock = threading.Lock()

    def _remember(self, key: str, value: object) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def get(self, key: str, kind: type[V]) -> V | None:
        """The value of ``key`` if it is a ``kind``: remembered, else read from the cache
        (and then remembered). None when the cache holds none."""
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
        if isinstance(value, kind):
            return value
        value = cache.get(key)
        if isinstance(value, kind):
            self._remember(key, value)
            return value
        return None

    def add(self, key: str, value: object, timeout: int) -> bool:
        """``cache.add``: remembered only when this call put ``value`` in the cache."""
        if cache.add(key, value, timeout):
            self._remember(key, value)
            return True
        return False

    def get_or_add(self, key: str, kind: type[V], make: Callable[[], V], timeout: int) -> V:
        """What the cache holds under ``key``, else ``make()`` added by the first writer:
        every caller gets the same value (``make()``'s own only if the cache keeps none)."""
        found = self.get(key, kind)
        if found is not None:
            return found
        made = make()
        if self.add(key, made, timeout):
            return made
        kept = self.get(key, kind)  # another worker wrote it first: use theirs
        return made if kept is None else kept

    def clear(self) -> None:
        """Forget everything (a new worker, as far as this process is concerned)."""
        with self._lock:
            self._values.clear()


#: The one memo of this process's epoch values (``ideas.context`` shares it).
epoch_memo = EpochMemo()

# Best first, ties to the most recently updated: the key of the ``ideas_idea_priority_order``
# index, so every "top of the portfolio" query reads that index in order and stops at
# its LIMIT (an ORDER BY the index does not match sorts every visible idea first).
PRIORITY_ORDER = ("-priority", "-updated_at", "-pk")


def theme_active() -> Theme | None:
    """The one active theme, with its IP profile, or None."""
    return Theme.objects.select_related("ip_profile").filter(status=Theme.Status.ACTIVE).first()


def _visible(theme: Theme):
    return Idea.objects.filter(theme=theme, status__in=Idea.VISIBLE_STATUSES)


def priority_ideas(*, theme: Theme, limit: int, with_tags: bool = True) -> list[Idea]:
    """The visible ideas the planner should work on first, best first.

    ``priority`` already folds in human corrections (they replace the model's scores)
    and the review bonus; ties go to the most recently updated idea. Served by the
    ``ideas_idea_priority_order`` index, whose key is this ORDER BY: the database walks it
    and stops after ``limit`` visible rows instead of sorting every visible idea.
    ``with_tags=False`` leaves the tags out (one query less) for a caller that reads them
    its own way, as the loop's context does for the ideas it shows in full.
    """
    # Written out: the loop picks its focus ideas this way on most iterations, and renders
    # its portfolio block (80 ideas with their tags) at each epoch's start.
    sql = _priority_sql()
    rows = rows_fetch(sql, [theme.pk, *Idea.VISIBLE_STATUSES, limit])
    ideas = models_from_rows(Idea, rows)
    if with_tags and ideas:
        # The second statement ``prefetch_related("tags")`` would run, without building it.
        tag_sql = _tags_of_sql().format(ids=placeholders(len(ideas)))
        tag_rows: dict[int, list[Sequence[Any]]] = {idea.pk: [] for idea in ideas}
        for idea_id, *tag_row in rows_fetch(tag_sql, [idea.pk for idea in ideas]):
            tag_rows[idea_id].append(tag_row)
        _tags_prefetched(ideas, tag_rows)
    return ideas


def _visible_slots() -> str:
    return placeholders(len(Idea.VISIBLE_STATUSES))


def _by_priority(select: str) -> str:
    """``select`` of the theme's visible ideas by ``PRIORITY_ORDER`` (the key of the
    ``ideas_idea_priority_order`` index, which the database walks), then the LIMIT, as
    the ORM spelled it. Parameters: the theme's id, the visible statuses, the limit."""
    priority, updated_at, pk = (column(Idea, name) for name in ("priority", "updated_at", "id"))
    return (
        f"SELECT {select} FROM {table(Idea)} "  # noqa: S608 - names from model metadata
        f"WHERE {column(Idea, 'theme')} = %s AND {column(Idea, 'status')} IN ({_visible_slots()}) "
        f"ORDER BY {priority} DESC, {updated_at} DESC, {pk} DESC LIMIT %s"
    )


@statement
def _priority_sql() -> str:
    """``priority_ideas`` without tags: every column of the ideas (``_by_priority``)."""
    return _by_priority(columns(Idea))


@statement
def _priority_lines_sql() -> str:
    """``priority_ideas``' statement for the id, title and summary alone (``_by_priority``)."""
    return _by_priority(", ".join(column(Idea, name) for name in ("id", "title", "summary")))


def priority_idea_lines(*, theme: Theme, limit: int) -> list[tuple[int, str, str]]:
    """(id, title, summary) of ``priority_ideas(theme=, limit=)``, in its order.

    What a line of the portfolio block prints: at each epoch's start the block read 80
    ideas with every column and built a model of each (datetimes converted, JSON decoded)
    for three values, most of the block's cost; these columns need no conversion.
    """
    rows = rows_fetch(_priority_lines_sql(), [theme.pk, *Idea.VISIBLE_STATUSES, limit])
    return [(int(pk), title, summary) for pk, title, summary in rows]


@statement
def _shown_sql() -> str:
    """The still-visible ideas among ``{ids}`` (a slot for their placeholders), each row
    with one of its tags (or none: NULLs), in no order (the caller orders)."""
    through = Idea.tags.through
    on_idea, on_tag = column(through, "idea"), column(through, "tag")
    idea_id, status = column(Idea, "id"), column(Idea, "status")
    return (
        f"SELECT {columns(Idea, alias='i')}, {columns(Tag, alias='t')} "  # noqa: S608 - names from model metadata
        f"FROM {table(Idea)} i LEFT JOIN {table(through)} it ON it.{on_idea} = i.{idea_id} "
        f"LEFT JOIN {table(Tag)} t ON t.{column(Tag, 'id')} = it.{on_tag} "
        f"WHERE i.{idea_id} IN ({{ids}}) AND i.{status} IN ({_visible_slots()})"
    )


def _ideas_shown(ids: Sequence[int]) -> list[Idea]:
    """The ideas of ``ids`` still visible, in the order of ``ids``, with their tags
    prefetched as ``prefetch_related("tags")`` leaves them (by name): one statement
    instead of the ORM's two, written out because it runs on every model call."""
    ideas, tag_rows = _shown_rows(ids)
    _tags_prefetched(ideas, tag_rows)
    return ideas


def ideas_shown_named(*, ids: Sequence[int]) -> tuple[list[Idea], dict[int, list[str]]]:
    """``_ideas_shown(ids)``'s ideas, tags not prefetched, and each one's tag names sorted
    as ``Idea.tag_names`` sorts them: for the loop's context, which prints the names
    alone (building each idea's ``Tag`` models and prefetch queryset cost more than the
    statement, on every model call). The same one statement."""
    ideas, tag_rows = _shown_rows(ids)
    at_name = Tag._meta.concrete_fields.index(Tag._meta.get_field("name"))
    return ideas, {pk: sorted(row[at_name] for row in rows) for pk, rows in tag_rows.items()}


def _shown_rows(ids: Sequence[int]) -> tuple[list[Idea], dict[int, list[Sequence[Any]]]]:
    """The ideas of ``_ideas_shown`` and, per idea, its tags' rows (every ``Tag`` column)."""
    if not ids:
        return [], {}
    sql = _shown_sql().format(ids=placeholders(len(ids)))
    rows = rows_fetch(sql, [*ids, *Idea.VISIBLE_STATUSES])
    width = len(Idea._meta.concrete_fields)
    at_pk = Idea._meta.concrete_fields.index(Idea._meta.pk)
    idea_rows: dict[int, Sequence[Any]] = {}
    tag_rows: dict[int, list[Sequence[Any]]] = {}
    for row in rows:
        idea_rows.setdefault(row[at_pk], row[:width])
        found = tag_rows.setdefault(row[at_pk], [])
        if row[width] is not None:
            found.append(row[width:])
    by_pk = {idea.pk: idea for idea in models_from_rows(Idea, list(idea_rows.values()))}
    return [by_pk[pk] for pk in ids if pk in by_pk], tag_rows


@statement
def _ideas_by_id_head() -> str:
    return f"SELECT {columns(Idea)} FROM {table(Idea)} WHERE {column(Idea, 'id')} IN "  # noqa: S608 - names from model metadata


def ideas_visible(*, theme_id: int, ids: Iterable[Any]) -> list[Idea]:
    """The theme's visible ideas among ``ids``, in the given order, deduplicated: what
    ``Idea.objects.filter(theme=, pk__in=, status__in=VISIBLE)`` reads (the IDs a plan or
    new ideas name, the ideas a link may point at), written out, as it runs on every
    answer.

    Only the IDs are in the statement; the theme and status are checked here. With them
    in the ``WHERE`` clause, from three IDs on SQLite served the read from the (theme,
    status, priority) index, walking every visible idea of the theme (17 ms at 100,000
    ideas) instead of looking the few IDs up by primary key."""
    wanted = list(dict.fromkeys(int(pk) for pk in ids))
    if not wanted:
        return []
    sql = _ideas_by_id_head() + "(" + placeholders(len(wanted)) + ")"
    visible = {str(status) for status in Idea.VISIBLE_STATUSES}
    found = {
        idea.pk: idea
        for idea in models_from_rows(Idea, rows_fetch(sql, wanted))
        if idea.theme_id == theme_id and idea.status in visible
    }
    return [found[pk] for pk in wanted if pk in found]


def _tags_of(select: str) -> str:
    """``select`` (``t`` the tag) of each tag link of the ideas in ``{ids}`` (a slot for
    their placeholders), each row led by the idea's id, in no order."""
    through = Idea.tags.through
    on_idea, on_tag = column(through, "idea"), column(through, "tag")
    return (
        f"SELECT it.{on_idea}, {select} "  # noqa: S608 - names from model metadata
        f"FROM {table(through)} it JOIN {table(Tag)} t ON t.{column(Tag, 'id')} = it.{on_tag} "
        f"WHERE it.{on_idea} IN ({{ids}})"
    )


@statement
def _tags_of_sql() -> str:
    """(idea id, every column of the tag): ``_tags_prefetched`` orders."""
    return _tags_of(columns(Tag, alias="t"))


@statement
def _tag_names_of_sql() -> str:
    """(idea id, tag name): ``tag_names_of`` sorts."""
    return _tags_of(f"t.{column(Tag, 'name')}")


def tag_names_of(*, idea_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each idea's tag names, sorted as ``Idea.tag_names`` sorts them (ideas without tags:
    an empty list), in one statement.

    For a caller that only prints the names (the portfolio block's 80 lines at each
    epoch's start): no ``Tag`` built and no per-idea prefetch queryset, most of the cost
    of ``priority_ideas``' tags."""
    names: dict[int, list[str]] = {pk: [] for pk in idea_ids}
    if not names:
        return names
    sql = _tag_names_of_sql().format(ids=placeholders(len(names)))
    for idea_id, name in rows_fetch(sql, list(names)):
        names[idea_id].append(name)
    for found in names.values():
        found.sort()
    return names


def _tags_prefetched(
    ideas: Sequence[Idea], tag_rows: Mapping[int, Sequence[Sequence[Any]]]
) -> None:
    """Leave each idea's tags (``tag_rows[idea.pk]``: rows of every ``Tag`` column) as
    ``prefetch_related("tags")`` leaves them: the manager's own queryset, its result
    cache filled in the model's order (by name), so ``idea.tags.all()`` and ``tag_names``
    read no row and anything chained on it still queries this idea's tags."""
    if not ideas:
        return
    cache_name, filter_key = _tags_relation()
    template: Any = Tag.objects.all()  # (Django's internals below: the stubs lack them)
    for idea in ideas:
        tags = models_from_rows(Tag, tag_rows[idea.pk])
        tags.sort(key=lambda tag: (tag.name, tag.pk))  # the model's ordering: by name
        # What the manager's ``_apply_rel_filters`` does, without building a manager per
        # idea (most of the cost of filling 80 ideas' tags): the instance as the
        # router's hint, and this idea's filter, deferred until something chains on it.
        template._add_hints(instance=idea)
        template._defer_next_filter = True
        queryset = template._next_is_sticky().filter(**{filter_key: idea.pk})
        queryset._result_cache = tags
        queryset._prefetch_done = True
        cast(Any, idea)._prefetched_objects_cache = {cache_name: queryset}


@functools.cache
def _tags_relation() -> tuple[str, str]:
    """The name ``Idea.tags``' prefetch is kept under and the filter its manager puts on
    ``Tag`` for one idea (the idea's primary key), as Django's manager derives them."""
    field = cast(Any, Idea.tags).field
    (_, target), *more = field.remote_field.through._meta.get_field(
        field.m2m_field_name()
    ).related_fields
    if more or not target.primary_key:
        raise TypeError("Idea.tags is expected to point at the idea's primary key")
    return field.name, f"{field.related_query_name()}__{target.name}"


def ideas_corrected(*, theme: Theme, limit: int) -> list[Idea]:
    """Visible ideas a person reviewed or re-scored for brand fit, newest review first.

    What the planner is shown as human corrections. The filter is spelled exactly as the
    condition of the partial ``ideas_idea_corrected`` index, so the database reads only
    the corrected ideas, already in this order, and stops at ``limit``.
    """
    # Written out (the planner reads it on every call): the ORM's statement, condition
    # included, so the partial index still serves it.
    rows = rows_fetch(_corrected_sql(), [*Idea.VISIBLE_STATUSES, theme.pk, limit])
    return models_from_rows(Idea, rows)


@statement
def _corrected_sql() -> str:
    """``ideas_corrected``' statement as the ORM spells it. Parameters: the visible
    statuses, the theme's id, the limit."""
    human_brand_fit, reviewed_at = column(Idea, "human_brand_fit"), column(Idea, "reviewed_at")
    return (
        f"SELECT {columns(Idea)} FROM {table(Idea)} "  # noqa: S608 - names from model metadata
        f"WHERE {column(Idea, 'status')} IN ({_visible_slots()}) "
        f"AND {column(Idea, 'theme')} = %s "
        # The condition of the ``ideas_idea_corrected`` index, term for term.
        f"AND NOT ({human_brand_fit} IS NULL AND {reviewed_at} IS NULL) "
        f"ORDER BY {reviewed_at} DESC NULLS LAST, {column(Idea, 'updated_at')} DESC LIMIT %s"
    )


def idea_context_candidates(
    *,
    theme: Theme,
    focus_ideas: Sequence[Idea],
    limit: int,
    exclude_ids: Sequence[int] = (),
    focus_links: Sequence[int] | None = None,
    focus_tag_ids: Sequence[int] | None = None,
    epoch: int | None = None,
) -> list[Idea]:
    """Other ideas worth summarising next to ``focus_ideas``, most relevant first.

    At most six bounded queries, whatever the portfolio's size, merged in this order:
    ideas linked to the focus, ideas sharing the most tags with it (among the
    ``OVERLAP_WINDOW`` best), then the highest-priority ideas. Focus ideas, invisible
    ideas (archived, refused) and ``exclude_ids`` (ideas the prompt shows already) are
    left out. ``focus_links`` and ``focus_tag_ids``: the focus ideas' link targets and tag
    ids when the caller read them already (the loop's context does), two queries less.
    The overlap is counted here on the window's ideas and their tags
    (``OverlapWindow``). ``epoch`` (the loop's portfolio epoch): the window is read once
    per epoch and kept in the cache (``overlap_window_get``); without it, read per call.
    """
    return _ideas_shown(
        idea_context_candidate_ids(
            theme=theme,
            focus_ideas=focus_ideas,
            limit=limit,
            exclude_ids=exclude_ids,
            focus_links=focus_links,
            focus_tag_ids=focus_tag_ids,
            epoch=epoch,
        )
    )


def idea_context_candidate_ids(
    *,
    theme: Theme,
    focus_ideas: Sequence[Idea],
    limit: int,
    exclude_ids: Sequence[int] = (),
    focus_links: Sequence[int] | None = None,
    focus_tag_ids: Sequence[int] | None = None,
    epoch: int | None = None,
) -> list[int]:
    """The ids ``idea_context_candidates`` reads, in its order (some may no longer be
    visible: ``_ideas_shown`` and ``ideas_shown_named`` leave them out)."""
    if limit <= 0:
        return []
    focus_ids = [idea.pk for idea in focus_ideas]
    left_out = {*focus_ids, *exclude_ids}
    read: list[OverlapWindow] = []

    def window() -> OverlapWindow:
        # Read when first needed: the epoch's, from the cache; otherwise read now.
        if not read:
            read.append(
                overlap_window_get(theme=theme, epoch=epoch)
                if epoch is not None
                else _overlap_window_read(theme)
            )
        return read[0]

    chosen: dict[int, None] = {}
    if focus_ids:
        # Read the few link targets first: with the ids spelled out the database looks
        # them up by key instead of walking the priority index in search of links.
        if focus_links is None:
            focus_links = list(
                Idea.related.through.objects.filter(from_idea_id__in=focus_ids)
                .values_list("to_idea_id", flat=True)
                .distinct()[:500]
            )
        link_targets = list(dict.fromkeys(focus_links))[:500]
        if link_targets:
            chosen.update(
                dict.fromkeys(_linked_best(theme, link_targets, left_out=left_out, limit=limit))
            )
        if focus_tag_ids is None:
            focus_tag_ids = list(
                Idea.tags.through.objects.filter(idea_id__in=focus_ids)
                .values_list("tag_id", flat=True)
                .distinct()[:50]
            )
        wanted = frozenset(list(dict.fromkeys(focus_tag_ids))[:50])
        if wanted and len(chosen) < limit:
            # Overlap is counted within the best OVERLAP_WINDOW ideas only: a tag shared
            # by a third of 100,000 ideas would otherwise group ~30,000 rows per call,
            # and a weak idea that shares a tag is not worth the model's tokens anyway.
            # Sorted by overlap, then by the window's order. Counted from the wanted tags'
            # positions: only the ideas that share one are looked at, not every id of the
            # window on every call (2,000 ideas with 3 of 60 tags each: ~0.5 ms a call
            # before, ~0.15 ms). Positions are distinct, so the order has no ties.
            read_window = window()
            ids = read_window.ids
            shared: Counter[int] = Counter()
            for tag_id in wanted:
                shared.update(read_window.positions.get(tag_id, ()))
            best = heapq.nsmallest(
                limit,
                (at for at in shared if ids[at] not in left_out),
                key=lambda at: (-shared[at], at),
            )
            chosen.update(dict.fromkeys(ids[at] for at in best))
    if len(chosen) < limit:
        # The window, when read, starts with these very ideas: no second read (and no
        # walk past the first ``limit`` of its 2,000 ids).
        top = (
            list(itertools.islice((pk for pk in window().ids if pk not in left_out), limit))
            if read or epoch is not None
            else _visible(theme)
            .exclude(pk__in=left_out)
            .order_by(*PRIORITY_ORDER)
            .values_list("pk", flat=True)[:limit]
        )
        chosen.update(dict.fromkeys(top))
    # The caller reads them still visible now (an epoch's window is as of the epoch's
    # start), with their tags, looked up by key only: with the theme's filter and the
    # exclusions, SQLite walked the theme's ideas instead (40 ms at 100,000 ideas).
    return list(chosen)[:limit]


def _linked_best(
    theme: Theme, targets: Sequence[int], *, left_out: set[int], limit: int
) -> list[int]:
    """The best ``limit`` visible ideas among ``targets`` (link targets, at most 500).

    Looked up by key alone and filtered and ordered here: with the theme's filter or an
    ``ORDER BY`` in the query, SQLite walked the theme's priority index instead (40 ms
    at 100,000 ideas for a handful of links).
    """
    rows = Idea.objects.filter(pk__in=[pk for pk in targets if pk not in left_out]).values_list(
        "priority", "updated_at", "pk", "theme_id", "status"
    )
    visible = [row[:3] for row in rows if row[3] == theme.pk and row[4] in Idea.VISIBLE_STATUSES]
    return [pk for *_, pk in sorted(visible, reverse=True)[:limit]]


@dataclass(frozen=True)
class OverlapWindow:
    """The ``OVERLAP_WINDOW`` best visible ideas of a theme, best first, with their tags:
    per tag, the positions in ``ids`` of the ideas that carry it, ascending (a tag
    without an idea in the window is absent)."""

    ids: tuple[int, ...]
    positions: Mapping[int, tuple[int, ...]]


@statement
def _window_sql() -> str:
    """The window's ideas (``priority_ideas``' order, ``_by_priority``, in a subquery)
    each with one of its tags (or none: NULL), with the order's key, in no order: the
    caller orders (an ``ORDER BY`` outside the subquery would sort every row)."""
    through = Idea.tags.through
    priority, updated_at, pk = (column(Idea, name) for name in ("priority", "updated_at", "id"))
    # SQLite's driver would turn every ``updated_at`` into a datetime (Django registers a
    # converter for the column's declared type; ~3 us a row, most of the read): an
    # expression has no declared type, so it comes back as the stored text, which sorts
    # as the index sorts it. PostgreSQL's driver decodes timestamps in C.
    when = f"w.{updated_at} || ''" if connection.vendor == "sqlite" else f"w.{updated_at}"
    return (
        f"SELECT w.{priority}, {when}, w.{pk}, it.{column(through, 'tag')} "  # noqa: S608 - names from model metadata
        f"FROM ({_by_priority(f'{priority}, {updated_at}, {pk}')}) w "
        f"LEFT JOIN {table(through)} it ON it.{column(through, 'idea')} = w.{pk}"
    )


def _overlap_window_read(theme: Theme) -> OverlapWindow:
    # Written out, and one statement: the ORM built a lookup of 2,000 ids for the tags'
    # IN list (~25 ms at the epoch's first call), and a second statement sent those
    # 2,000 ids back. The order is the subquery's key, sorted here: the rows mostly come
    # in that order already, which Python's sort passes through in one linear walk. The
    # ``updated_at`` values come as the database sorts them (SQLite: the stored text,
    # PostgreSQL: datetimes), so the order is the index's.
    keys: dict[int, tuple[Any, Any, int]] = {}
    tags: dict[int, list[int]] = {}
    for priority, updated_at, pk, tag_id in rows_fetch(
        _window_sql(), [theme.pk, *Idea.VISIBLE_STATUSES, OVERLAP_WINDOW]
    ):
        if pk not in keys:
            keys[pk] = (priority, updated_at, pk)
        if tag_id is not None:
            tags.setdefault(pk, []).append(tag_id)  # one row per link: (idea, tag) is unique
    ids = tuple(key[2] for key in sorted(keys.values(), reverse=True))
    positions: dict[int, list[int]] = {}
    for position, pk in enumerate(ids):
        for tag_id in tags.get(pk, ()):
            positions.setdefault(tag_id, []).append(position)
    return OverlapWindow(
        ids=ids, positions={tag_id: tuple(found) for tag_id, found in positions.items()}
    )


def overlap_window_get(*, theme: Theme, epoch: int) -> OverlapWindow:
    """The overlap window of ``theme`` as read by the first call of ``epoch``.

    Kept in the shared cache like the epoch's portfolio block (``ideas.context``): the
    related ideas of every call in the epoch are chosen from the same window, and the
    window's ids and tags are read once per epoch instead of once per call (at 100,000
    ideas the per-call read was ~25 ms, mostly the 2,000 ids of the ``IN`` list).
    """
    # "overlap-by-tag": a window of the older shape (tags per idea) kept under the old
    # prefix by a process still running the previous release is not read as this one.
    key = f"ideas:overlap-by-tag:{theme.pk}:{theme.created_at.timestamp():.6f}:{epoch}"
    return epoch_memo.get_or_add(
        key, OverlapWindow, lambda: _overlap_window_read(theme), OVERLAP_CACHE_SECONDS
    )


@statement
def _newest_sql() -> str:
    return (
        f"SELECT {column(Idea, 'title')}, {column(Idea, 'summary')} FROM {table(Idea)} "  # noqa: S608 - names from model metadata
        f"WHERE {column(Idea, 'theme')} = %s AND {column(Idea, 'status')} IN ({_visible_slots()}) "
        f"ORDER BY {column(Idea, 'id')} DESC LIMIT %s"
    )


def newest_texts(*, theme: Theme, limit: int) -> list[str]:
    """ "Title. summary" of the theme's ``limit`` newest visible ideas, newest first: the
    sample of the pairwise text measures (``scatter_measure`` reads it every iteration,
    hence written out; the primary key's index serves the order)."""
    rows = rows_fetch(_newest_sql(), [theme.pk, *Idea.VISIBLE_STATUSES, limit])
    return [f"{title}. {summary}" for title, summary in rows]


def _effective(name: str):
    return Coalesce(F(f"human_{name}"), F(name), output_field=FloatField())


def _brand_text(theme: Theme) -> str:
    profile = theme.ip_profile
    parts = [profile.name, profile.essence, profile.brand_promise, profile.target_audience]
    parts += [str(p) for p in profile.core_personality + profile.visual_motifs]
    parts += [f"{e.get('title', '')} {e.get('description', '')}" for e in profile.canon_examples]
    return "\n".join(parts)


#: The ``PortfolioCounters`` columns named after a status count the ideas in it.
STATUS_COLUMNS: tuple[str, ...] = tuple(Idea.Status.values)


def portfolio_counts_scan(*, theme_id: int) -> dict[str, Any]:
    """The ``PortfolioCounters`` columns counted from the theme's ideas: their definition.

    One aggregate over the theme's ideas (each figure FILTERed), plus the refusal count.
    It reads the whole portfolio: ``portfolio_counters_rebuild`` calls it, the loop reads
    the counters it keeps.
    """
    visible = Q(status__in=Idea.VISIBLE_STATUSES)
    aggregates: dict[str, Any] = {
        status: Count("id", filter=Q(status=status)) for status in STATUS_COLUMNS
    }
    aggregates["visible_human_corrected"] = Count(
        "id",
        filter=visible
        & Q(*(Q(**{f"human_{f}__isnull": False}) for f in SCORE_FIELDS), _connector=Q.OR),
    )
    aggregates["visible_reviewed_at"] = Count("id", filter=visible & Q(reviewed_at__isnull=False))
    for name in SCORE_FIELDS:
        aggregates[f"{name}_n"] = Count(_effective(name), filter=visible)
        aggregates[f"{name}_sum"] = Sum(_effective(name), filter=visible)
        aggregates[f"{name}_sq"] = Sum(_effective(name) * _effective(name), filter=visible)
    row = Idea.objects.filter(theme_id=theme_id).aggregate(**aggregates)
    for name in SCORE_FIELDS:
        row[f"{name}_sum"] = row[f"{name}_sum"] or 0.0
        row[f"{name}_sq"] = row[f"{name}_sq"] or 0.0
    row["refusals"] = IdeaRefusal.objects.filter(theme_id=theme_id).count()
    return row


def _top_tags_scan(theme: Theme) -> list[tuple[str, int]]:
    # django-stubs does not see annotations on an auto-created through model.
    return list(
        Idea.tags.through.objects.filter(tag__theme=theme, idea__status__in=Idea.VISIBLE_STATUSES)  # type: ignore[misc]
        .values("tag__name")
        .annotate(n=Count("idea_id"))
        .order_by("-n", "tag__name")
        .values_list("tag__name", "n")[:10]
    )


@statement
def _top_tags_sql() -> str:
    """The ten tags with the most visible ideas of a theme (its id the parameter)."""
    name, visible = column(Tag, "name"), column(Tag, "visible_ideas")
    return (
        f"SELECT {name}, {visible} FROM {table(Tag)} "  # noqa: S608 - names from model metadata
        f"WHERE {column(Tag, 'theme')} = %s AND {visible} > 0 "
        f"ORDER BY {visible} DESC, {name} ASC LIMIT 10"
    )


def _top_tags(theme: Theme) -> list[tuple[str, int]]:
    # The ``ideas_tag_top`` index, in order, stopped at the LIMIT. Written out with the
    # counters' read below: ``portfolio_stats`` runs on every planner call.
    return [(name, n) for name, n in rows_fetch(_top_tags_sql(), [theme.pk])]


@statement
def _counters_sql() -> str:
    """The theme's ``PortfolioCounters`` row, every column (its theme's id the parameter)."""
    return (
        f"SELECT {columns(PortfolioCounters)} FROM {table(PortfolioCounters)} "  # noqa: S608 - names from model metadata
        f"WHERE {column(PortfolioCounters, 'theme')} = %s"
    )


def _counters_row(theme: Theme) -> dict[str, Any] | None:
    """The theme's counters as ``PortfolioCounters.objects.filter(theme=…).values()``
    gives them (by field attribute name, values converted), or None without the row."""
    found = models_from_rows(PortfolioCounters, rows_fetch(_counters_sql(), [theme.pk]))
    if not found:
        return None
    return {
        field.attname: getattr(found[0], field.attname)
        for field in PortfolioCounters._meta.concrete_fields
    }


def portfolio_stats(*, theme: Theme) -> dict[str, Any]:
    """Counts, effective score means and variances, and text measures of the portfolio.

    The counts and score moments come from the theme's ``PortfolioCounters`` row and the
    top tags from ``Tag.visible_ideas`` (kept by the idea services as they write), so
    the cost does not grow with the portfolio; a theme without the row yet (no idea
    written through the services) is counted by a scan, which is what the counters
    mean. Diversity, repetition, brand drift and scatter come from the newest
    ``STATS_SAMPLE`` visible ideas. ``scatter`` (0..1) is the diversity of that sample,
    the input of ``mode_choose``.
    """
    row = _counters_row(theme)
    if row is None:
        return portfolio_stats_scan(theme=theme)
    return _stats_assemble(theme, row, _top_tags(theme))


def portfolio_stats_scan(*, theme: Theme) -> dict[str, Any]:
    """``portfolio_stats`` counted from the ideas themselves: the definition of its figures."""
    return _stats_assemble(theme, portfolio_counts_scan(theme_id=theme.pk), _top_tags_scan(theme))


def _stats_assemble(
    theme: Theme, counts: Mapping[str, Any], top_tags: Sequence[tuple[str, int]]
) -> dict[str, Any]:
    scores: dict[str, Any] = {}
    for name in SCORE_FIELDS:
        n = counts[f"{name}_n"]
        mean = counts[f"{name}_sum"] / n if n else None
        square = counts[f"{name}_sq"] / n if n else None
        scores[name] = {
            "n": n,
            "mean": None if mean is None else round(mean, 3),
            "variance": None
            if mean is None or square is None
            else round(max(0.0, square - mean * mean), 3),
        }
    sample = newest_texts(theme=theme, limit=STATS_SAMPLE)
    sample_diversity = diversity(sample)
    return {
        "ideas": sum(counts[status] for status in Idea.VISIBLE_STATUSES),
        "by_status": {status: counts[status] for status in STATUS_COLUMNS},
        "human_corrected": counts["visible_human_corrected"],
        "reviewed": counts["visible_reviewed_at"],
        "refusals": counts["refusals"],
        "scores": scores,
        "sample_size": len(sample),
        "diversity": sample_diversity,
        "repetition": repetition(sample),
        "brand": brand_drift(sample, brand_text=_brand_text(theme)),
        "scatter": sample_diversity if sample_diversity is not None else 0.0,
        "top_tags": [[name, n] for name, n in top_tags],
    }


def idea_changes(*, idea: Idea, limit: int = 50) -> list[IdeaChange]:
    return list(idea.changes.select_related("actor").order_by("-at", "-pk")[:limit])


def snapshot_latest(*, theme: Theme | None = None) -> Snapshot | None:
    """The newest snapshot of ``theme`` (default: the active theme, else any theme)."""
    snapshots = Snapshot.objects.select_related("theme").order_by("-created_at", "-pk")
    if theme is None:
        theme = theme_active()
    if theme is not None:
        snapshots = snapshots.filter(theme=theme)
    return snapshots.first()
