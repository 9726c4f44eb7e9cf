"""Scores and people's verdicts: model scores, human corrections, review flags, archiving.

A person's correction replaces the model's score (``effective_*``) and every change
recomputes the stored priority, which is what the planner reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, cast

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone

from bizagent import sql
from decisions.actors import Actor, Person, RequestUser
from decisions.services import AuditEntry, audit_log, audit_log_many
from ideas.models import SCORE_FIELDS, Idea, IdeaChange
from ideas.priority import REVIEWED_BONUS
from ideas.services.counters import Counted, counted, counters_move, tags_of
from ideas.services.portfolio import (
    _change,
    _priority_refresh,
    _save_with_changes,
)


def _scores_validate(scores: Mapping[str, Any], *, allow_none: bool) -> dict[str, float | None]:
    clean: dict[str, float | None] = {}
    for name, value in scores.items():
        if name not in SCORE_FIELDS:
            raise ValidationError(
                {name: f"unknown score; expected one of {', '.join(SCORE_FIELDS)}"}
            )
        if value is None and allow_none:
            clean[name] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ValidationError({name: f"{value!r} is not a number"}) from exc
        if not 0.0 <= number <= 10.0:
            raise ValidationError({name: f"{number} is outside 0–10"})
        clean[name] = number
    return clean


def idea_scores_set(
    *, idea: Idea, scores: Mapping[str, Any], iteration_id: int | None, actor: Actor = None
) -> list[str]:
    """Set the model's scores (0–10); returns the score names that changed."""
    return ideas_scores_set(scores={idea: scores}, iteration_id=iteration_id, actor=actor)[idea.pk]


#: The columns a model score change writes (``updated_at`` by hand: a bulk update does
#: not run ``auto_now``).
_SCORED_COLUMNS = (*SCORE_FIELDS, "priority", "updated_by_iteration_id", "updated_at")


#: Up to this many ideas are written with one plain UPDATE each, more with one
#: ``bulk_update``. Django's ``bulk_update`` builds a CASE per column and idea: for the one
#: to five ideas of a review it cost several times the statements it saves (two ideas:
#: 3.1 ms against 0.5 ms), and a review never scores more than a handful.
ROW_UPDATES_MAX = 20


def _scored_rows_write(rows: list[Idea]) -> None:
    if len(rows) > ROW_UPDATES_MAX:
        Idea.objects.bulk_update(rows, _SCORED_COLUMNS)
        return
    # One plain UPDATE per idea, written out (the ORM's update of these columns cost
    # ~10x the statement); values prepared as the ORM prepares them.
    for row in rows:
        assign = {name: getattr(row, name) for name in _SCORED_COLUMNS}
        sql.rows_update(Idea, where={"id": row.pk}, assign=assign)


#: What a score change reads of each idea (under its lock): what it compares, counts,
#: recomputes and writes, the title its audit event names, and what the caller's objects
#: are brought up to date with; not the long texts.
_SCORED_READ = (
    "pk",
    "theme_id",
    "title",
    "status",
    "reviewed_at",
    *_SCORED_COLUMNS,
    *(f"human_{name}" for name in SCORE_FIELDS),
)


#: The read's columns in the model's field order (the order ``from_db`` takes them in).
_SCORED_NAMES = tuple(
    f.attname
    for f in Idea._meta.concrete_fields
    if f.attname in {"id" if name == "pk" else name for name in _SCORED_READ}
)


@sql.statement
def _scored_read_head() -> str:
    names = ", ".join(sql.column(Idea, name) for name in _SCORED_NAMES)
    return f"SELECT {names} FROM {sql.table(Idea)} WHERE {sql.column(Idea, 'id')} IN"  # noqa: S608 - model names


@sql.statement
def _scored_read_tail() -> str:
    lock = " FOR UPDATE" if connections["default"].features.has_select_for_update else ""
    return f" ORDER BY {sql.column(Idea, 'id')} ASC{lock}"


def _scored_locked(pks: list[int]) -> dict[int, Idea]:
    """The ideas ``pks`` locked and read as ``Idea.objects.select_for_update()
    .filter(pk__in=pks).only(*_SCORED_READ).order_by("pk")`` reads them, written out (the
    ORM's query building and model instantiation cost several times the statement)."""
    if not pks:
        return {}
    marks = sql.placeholders(len(pks))
    rows = sql.rows_fetch(f"{_scored_read_head()} ({marks}){_scored_read_tail()}", pks)
    return {idea.pk: idea for idea in sql.models_from_rows(Idea, rows, names=_SCORED_NAMES)}


def ideas_scores_set(
    *, scores: Mapping[Idea, Mapping[str, Any]], iteration_id: int | None, actor: Actor = None
) -> dict[int, list[str]]:
    """Set the model's scores of several ideas at once; per idea id, the names that changed.

    A bounded number of queries however many ideas: the ideas are locked and read
    together, written with one update each (one bulk update past ``ROW_UPDATES_MAX``),
    their change rows and audit events in one insert each. Every score is validated
    before anything is written. The given idea objects are brought up to date with what
    was written.
    """
    clean = {idea.pk: _scores_validate(wanted, allow_none=False) for idea, wanted in scores.items()}
    changed: dict[int, list[str]] = {pk: [] for pk in clean}
    # No savepoint inside the caller's transaction (the critic's persist): nothing is
    # written before every row is read and checked, and a failure of a write fails the
    # caller's transaction with it, so nothing is left half written either way.
    with transaction.atomic(savepoint=False):
        locked = _scored_locked(sorted(clean))
        now = timezone.now()
        written: list[Idea] = []
        change_rows: list[IdeaChange] = []
        entries: list[AuditEntry] = []
        moves: dict[int, list[tuple[Counted, Counted]]] = {}
        for pk, values in clean.items():
            row = locked.get(pk)
            if row is None:
                raise Idea.DoesNotExist(f"idea {pk} does not exist")
            before = counted(row)
            rows = [
                _change(row, name, getattr(row, name), value, iteration_id, actor, "")
                for name, value in values.items()
                if getattr(row, name) != value
            ]
            for name, value in values.items():
                setattr(row, name, value)
            if not rows:
                continue
            if iteration_id is not None:
                row.updated_by_iteration_id = iteration_id
            # No full_clean: the scores were validated above (numbers in the range), the
            # priority is computed from them and nothing else of the row changes.
            _priority_refresh(row)
            row.updated_at = now
            written.append(row)
            moves.setdefault(row.theme_id, []).append((before, counted(row)))
            change_rows += rows
            changed[pk] = [c.field for c in rows]
            entries.append(
                AuditEntry(
                    action="ideas.idea_scored",
                    actor=actor,
                    subject=row,
                    data={"scores": values, "iteration_id": iteration_id},
                )
            )
        if written:
            _scored_rows_write(written)
            sql.rows_insert(IdeaChange, change_rows)
            audit_log_many(entries=entries)
            for theme_id, changes in sorted(moves.items()):
                counters_move(theme_id=theme_id, changes=changes)
    for idea in scores:
        row = locked[idea.pk]
        for column in (*_SCORED_COLUMNS, "status"):
            setattr(idea, column, getattr(row, column))
    return changed


def idea_human_correct(*, idea: Idea, user: RequestUser, **scores: float | None) -> Idea:
    """A person's score corrections (``brand_fit=8``); ``None`` clears a correction.

    Corrections win over the model's scores everywhere (``effective_*``) and move the
    idea's priority, which is how people steer what the planner deepens next.
    """
    if not user.has_perm("ideas.change_idea"):
        raise PermissionDenied("correcting scores needs ideas.change_idea")
    clean = _scores_validate(scores, allow_none=True)
    with transaction.atomic():
        locked = Idea.objects.select_for_update().get(pk=idea.pk)
        before = counted(locked)
        rows = []
        for name, value in clean.items():
            field = f"human_{name}"
            if getattr(locked, field) != value:
                rows.append(_change(locked, field, getattr(locked, field), value, None, user, ""))
                setattr(locked, field, value)
        if rows:
            _save_with_changes(locked, rows, None)
            counters_move(theme_id=locked.theme_id, changes=[(before, counted(locked))])
            audit_log(
                action="ideas.scores_corrected",
                actor=user,
                subject=locked,
                data={"scores": clean, "priority": locked.priority},
            )
    idea.refresh_from_db()
    return idea


_HUMAN_FIELDS = tuple(f"human_{name}" for name in SCORE_FIELDS)


def _transition_count(ideas: list[Idea], *, to: str, extra: Mapping[str, Any]) -> None:
    """Move the counters for ``ideas`` (as read before) now ``to`` with ``extra`` set."""
    moves: dict[int, list[tuple[Counted, Counted]]] = {}
    crossing: dict[int, int] = {}  # idea id → +1 into sight, −1 out of it
    for idea in ideas:
        before = counted(idea)
        idea.status = to
        for name, value in extra.items():
            if name in ("reviewed_at", "status"):
                setattr(idea, name, value)
        after = counted(idea)
        moves.setdefault(idea.theme_id, []).append((before, after))
        if before.visible != after.visible:
            crossing[idea.pk] = 1 if after.visible else -1
    tags_by_idea = tags_of(crossing)
    for theme_id, changes in sorted(moves.items()):
        tag_moves: dict[int, int] = {}
        for idea in ideas:
            if idea.theme_id == theme_id and idea.pk in crossing:
                for tag_id in tags_by_idea.get(idea.pk, []):
                    tag_moves[tag_id] = tag_moves.get(tag_id, 0) + crossing[idea.pk]
        counters_move(theme_id=theme_id, changes=changes, tags=tag_moves)


def _ideas_transition(
    *, idea_ids: Iterable[int], to: str, user: RequestUser, action: str, extra: Mapping[str, Any]
) -> list[int]:
    sources = [s for s, targets in Idea.TRANSITIONS.items() if to in targets]
    with transaction.atomic():
        ideas = list(
            Idea.objects.select_for_update()
            .filter(pk__in=list(idea_ids), status__in=sources)
            .only("pk", "theme_id", "status", "reviewed_at", *SCORE_FIELDS, *_HUMAN_FIELDS)
            .order_by("pk")
        )
        ids = [idea.pk for idea in ideas]
        if not ids:
            return []
        # The status filter again: on a database without row locks this update is the
        # compare-and-set that loses the race gracefully.
        Idea.objects.filter(pk__in=ids, status__in=sources).update(status=to, **extra)
        IdeaChange.objects.bulk_create(
            [
                # The callers checked a permission: the user is a person.
                IdeaChange(
                    idea_id=idea.pk,
                    field="status",
                    old=idea.status,
                    new=to,
                    actor=cast("Person", user),
                )
                for idea in ideas
            ]
        )
        _transition_count(ideas, to=to, extra=extra)
        audit_log(action=action, actor=user, subject=None, data={"idea_ids": ids})
    return ids


def idea_mark_reviewed(*, idea_ids: Iterable[int], user: RequestUser) -> int:
    """Mark ideas reviewed by ``user``; returns how many changed.

    Ideas already reviewed, archived or refused are skipped. A first review adds the
    review bonus to the priority.
    """
    if not user.has_perm("ideas.change_idea"):
        raise PermissionDenied("reviewing ideas needs ideas.change_idea")
    ids = list(idea_ids)
    with transaction.atomic():
        first_time = list(
            Idea.objects.filter(pk__in=ids, reviewed_at__isnull=True).values_list("pk", flat=True)
        )
        changed = _ideas_transition(
            idea_ids=ids,
            to=Idea.Status.REVIEWED,
            user=user,
            action="ideas.ideas_reviewed",
            extra={"reviewed_at": timezone.now(), "reviewed_by": user},
        )
        bonus_ids = sorted(set(changed) & set(first_time))
        if bonus_ids:
            Idea.objects.filter(pk__in=bonus_ids).update(priority=F("priority") + REVIEWED_BONUS)
    return len(changed)


def idea_archive(*, idea_ids: Iterable[int], user: RequestUser) -> int:
    """Archive ideas: they leave the loop's context and the planner's priorities."""
    if not user.has_perm("ideas.change_idea"):
        raise PermissionDenied("archiving ideas needs ideas.change_idea")
    return len(
        _ideas_transition(
            idea_ids=idea_ids,
            to=Idea.Status.ARCHIVED,
            user=user,
            action="ideas.ideas_archived",
            extra={},
        )
    )
