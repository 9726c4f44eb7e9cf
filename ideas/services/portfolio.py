"""Ideas: create or update from model output, scores, human corrections, review flags.

Every change to an idea's content or scores leaves ``IdeaChange`` rows (field, old, new,
iteration or person) in the same transaction as the change.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import DatabaseError, IntegrityError, connections, models, transaction
from django.utils import timezone

from bizagent import sql
from bizagent.llm.structured import schema_normalise
from decisions.actors import Actor, Person
from decisions.services import AuditEntry, audit_log, audit_log_many
from ideas.models import (
    SCORE_FIELDS,
    SCORE_MAX,
    SCORE_MIN,
    Idea,
    IdeaChange,
    IdeaRefusal,
    IPProfile,
    Tag,
    Theme,
)
from ideas.priority import priority_compute
from ideas.safety import content_violations, idea_text
from ideas.selectors import ideas_visible
from ideas.services.counters import counted, counters_move
from ideas.theme_files import IDEA_SCHEMA, document_errors, schema_load

TEXT_FIELDS = ("title", "summary", "target_audience", "value_proposition", "revenue_model")
_SPACE_RE = re.compile(r"\s+")
_PUNCT_RE = re.compile(r"[^\w\s]")


class IdeaRefused(Exception):
    """The content broke a taboo or the built-in line; the refusal has been recorded."""

    def __init__(self, reasons: list[str], refusal: IdeaRefusal):
        self.reasons = reasons
        self.refusal = refusal
        super().__init__("; ".join(reasons))


class IdeaDataInvalid(ValidationError):
    """The idea data does not match ``idea.schema.json``; messages name the field."""


class IdeaTransitionError(Exception):
    """The idea is not in a state that allows the requested transition."""


# --- helpers ------------------------------------------------------------------------------


def title_normalise(title: str) -> str:
    """Case, width, punctuation and spacing folded, so trivial variants dedupe."""
    folded = unicodedata.normalize("NFKC", title).casefold()
    return _SPACE_RE.sub(" ", _PUNCT_RE.sub(" ", folded)).strip()


def idea_fingerprint(title: str) -> str:
    return hashlib.sha256(title_normalise(title).encode("utf-8")).hexdigest()


def tag_normalise(name: str) -> str:
    return _SPACE_RE.sub("-", unicodedata.normalize("NFKC", name).casefold().strip())[:64]


def _tags_resolve(*, theme: Theme, names: Iterable[str]) -> list[Tag]:
    """The theme's tags named ``names`` (normalised), created where missing, by name.

    Written out (the ORM's ``bulk_create`` and filter cost several times the statements):
    the tags that exist are read; only missing ones are inserted, ignoring a conflict with
    a concurrent writer creating the same tag, whose row is then read like the others.
    """
    wanted = sorted({tag_normalise(n) for n in names if tag_normalise(n)})
    if not wanted:
        return []
    found = {tag.name: tag for tag in _tags_read(theme_id=theme.pk, names=wanted)}
    missing = [name for name in wanted if name not in found]
    if missing:
        for tag in _tags_insert(theme_id=theme.pk, names=missing):
            found[tag.name] = tag
        lost = [name for name in missing if name not in found]
        if lost:  # created by a concurrent writer between our read and insert
            found.update((tag.name, tag) for tag in _tags_read(theme_id=theme.pk, names=lost))
    return [found[name] for name in wanted]


def _tags_read(*, theme_id: int, names: Sequence[str]) -> list[Tag]:
    """``Tag.objects.filter(theme_id=theme_id, name__in=names)``, written out."""
    marks = sql.placeholders(len(names))
    rows = sql.rows_fetch(
        f"{_tags_read_sql()} ({marks})",  # only placeholders added
        [theme_id, *names],
    )
    return sql.models_from_rows(Tag, rows)


@sql.statement
def _tags_read_sql() -> str:
    return (
        f"SELECT {sql.columns(Tag)} FROM {sql.table(Tag)} "  # noqa: S608 - model names
        f"WHERE {sql.column(Tag, 'theme')} = %s AND {sql.column(Tag, 'name')} IN"
    )


def _tags_insert(*, theme_id: int, names: Sequence[str]) -> list[Tag]:
    """Insert the tags ``names`` of the theme, skipping any that exists by now (as
    ``bulk_create(ignore_conflicts=True)``); the rows inserted."""
    values = ", ".join(["(%s, %s, 0)"] * len(names))
    params: list[Any] = []
    for name in names:
        params += [theme_id, name]
    rows = sql.rows_fetch(f"{_tags_insert_head()}{values}{_tags_insert_tail()}", params)
    return sql.models_from_rows(Tag, rows)


@sql.statement
def _tags_insert_head() -> str:
    names = ", ".join(sql.column(Tag, name) for name in ("theme", "name", "visible_ideas"))
    return f"INSERT INTO {sql.table(Tag)} ({names}) VALUES "  # noqa: S608 - model names


@sql.statement
def _tags_insert_tail() -> str:
    # ON CONFLICT DO NOTHING: SQLite (3.24+) and PostgreSQL alike; RETURNING gives only
    # the rows inserted, so a tag a concurrent writer created is read afterwards.
    return f" ON CONFLICT DO NOTHING RETURNING {sql.columns(Tag)}"


@sql.statement
def _tag_links_read_sql() -> str:
    through = Idea.tags.through
    tag = sql.table(Tag)
    return (
        f"SELECT {tag}.{sql.column(Tag, 'id')}, {tag}.{sql.column(Tag, 'name')} "  # noqa: S608 - model names
        f"FROM {tag} INNER JOIN {sql.table(through)} ON ({tag}.{sql.column(Tag, 'id')} = "
        f"{sql.table(through)}.{sql.column(through, 'tag')}) "
        f"WHERE {sql.table(through)}.{sql.column(through, 'idea')} = %s "
        f"ORDER BY {tag}.{sql.column(Tag, 'name')} ASC"
    )


def _tag_links_read(*, idea_id: int) -> list[tuple[int, str]]:
    """The idea's tags as (id, name), by name: ``idea.tags.values_list("pk", "name")``
    written out (the related manager's query building cost several times the join)."""
    return [(pk, name) for pk, name in sql.rows_fetch(_tag_links_read_sql(), [idea_id])]


def _tag_links_write(*, idea_id: int, remove: Sequence[int], add: Sequence[int]) -> None:
    """Unlink the tags ``remove`` from the idea and link ``add``: what ``idea.tags.set``
    does after reading the links, whose read the caller already made under the idea's
    lock (a link that exists by now is skipped, as ``add`` skips it)."""
    through = Idea.tags.through
    idea_col, tag_col = sql.column(through, "idea"), sql.column(through, "tag")
    if remove:
        marks = sql.placeholders(len(remove))
        sql.rows_execute(
            f"DELETE FROM {sql.table(through)} WHERE {idea_col} = %s "  # noqa: S608 - model names
            f"AND {tag_col} IN ({marks})",
            [idea_id, *remove],
        )
    if add:
        values = ", ".join(["(%s, %s)"] * len(add))
        params: list[Any] = []
        for tag_id in add:
            params += [idea_id, tag_id]
        sql.rows_execute(
            f"INSERT INTO {sql.table(through)} ({idea_col}, {tag_col}) "  # noqa: S608 - model names
            f"VALUES {values} ON CONFLICT DO NOTHING",
            params,
        )


@functools.cache
def _idea_schema() -> dict[str, Any]:
    """The idea schema, read once per process like its validator (``document_errors``):
    reading and checking the file cost ~0.1 ms per proposal. Never mutated
    (``schema_normalise`` is pure)."""
    return schema_load(IDEA_SCHEMA)


def _data_normalise(data: Mapping[str, Any]) -> dict[str, Any]:
    clean = dict(data)
    if "related_ids" in clean:  # the goals roles call it related_ids
        clean["related"] = list(clean.pop("related_ids") or [])
    for name in SCORE_FIELDS:  # scores may come flat or under "scores"
        if name in clean:
            clean.setdefault("scores", {})[name] = clean.pop(name)
    for name in TEXT_FIELDS:
        if isinstance(clean.get(name), str):
            clean[name] = clean[name].strip()
    # Tags and related ids are sets: a duplicate changes nothing, so it is dropped, not refused.
    clean, _ = schema_normalise(clean, _idea_schema())
    errors = document_errors(document=clean, schema_name=IDEA_SCHEMA, label="idea")
    if errors:
        raise IdeaDataInvalid(errors)
    return clean


def _priority_refresh(idea: Idea) -> None:
    idea.priority = priority_compute(
        effective_scores=idea.effective_scores(), reviewed=idea.reviewed_at is not None
    )


def _refusal_record(
    *,
    theme: Theme,
    data: Mapping[str, Any],
    reasons: list[str],
    iteration_id: int | None,
    idea: Idea | None,
    actor: Actor,
) -> IdeaRefusal:
    title = str(data.get("title") or (idea.title if idea else ""))[:200]
    fingerprint = idea_fingerprint(title)
    with transaction.atomic():
        # A repeated delivery of the same refused answer is one refusal, not two.
        existing = IdeaRefusal.objects.filter(
            theme=theme, fingerprint=fingerprint, iteration_id=iteration_id, idea=idea
        ).first()
        if existing is not None and iteration_id is not None:
            return existing
        refusal = IdeaRefusal(
            theme=theme,
            idea=idea,
            title=title,
            fingerprint=fingerprint,
            data=dict(data),
            reasons=reasons,
            iteration_id=iteration_id,
        )
        refusal.full_clean()
        refusal.save()
        counters_move(theme_id=theme.pk, refusals=1)
        audit_log(
            action="ideas.idea_refused",
            actor=actor,
            subject=refusal,
            data={"title": title, "reasons": reasons, "iteration_id": iteration_id},
        )
    return refusal


def _refuse_if_crossing(
    *,
    theme: Theme,
    data: Mapping[str, Any],
    iteration_id: int | None,
    idea: Idea | None,
    actor: Actor,
) -> None:
    reasons = content_violations(text=idea_text(data), taboos=theme.ip_profile.taboos)
    if reasons:
        refusal = _refusal_record(
            theme=theme,
            data=data,
            reasons=reasons,
            iteration_id=iteration_id,
            idea=idea,
            actor=actor,
        )
        raise IdeaRefused(reasons, refusal)


def _change(
    idea: Idea, field: str, old: Any, new: Any, iteration_id: int | None, actor: Actor, reason: str
) -> IdeaChange:
    # By ids, not instances: the row needs only the keys, and setting a relation through
    # its descriptor (type check, cache) cost more than the rest of the constructor.
    return IdeaChange(
        idea_id=idea.pk,
        field=field,
        old=old,
        new=new,
        iteration_id=iteration_id,
        # Only a saved person is recorded (an AnonymousUser has no pk).
        actor_id=cast("Person", actor).pk if getattr(actor, "pk", None) else None,
        reason=reason[:600],
    )


def _changes_apply(
    *,
    idea: Idea,
    data: Mapping[str, Any],
    iteration_id: int | None,
    actor: Actor,
    reason: str,
    related_mode: str = "add",
    created: bool = False,
    tag_moves: dict[int, int] | None = None,
) -> list[IdeaChange]:
    """Apply ``data`` to a locked idea; return the unsaved change rows (empty: nothing new).

    ``created``: the idea was inserted just now, so it has no tags or links to read.
    ``tag_moves`` collects, for a visible idea, the tags it gained (+1) and lost (−1).
    """
    changes: list[IdeaChange] = []
    for name in TEXT_FIELDS:
        if name not in data:
            continue
        new = data[name]
        old = getattr(idea, name)
        if new == old:
            continue
        if name == "title":
            fingerprint = idea_fingerprint(new)
            taken = (
                Idea.objects.filter(theme_id=idea.theme_id, fingerprint=fingerprint)
                .exclude(pk=idea.pk)
                .exists()
            )
            if taken:  # renaming onto another idea would merge two ideas silently
                continue
            idea.fingerprint = fingerprint
        setattr(idea, name, new)
        changes.append(_change(idea, name, old, new, iteration_id, actor, reason))
    for name, value in (data.get("scores") or {}).items():
        old = getattr(idea, name)
        new = float(value)
        if old != new:
            setattr(idea, name, new)
            changes.append(_change(idea, name, old, new, iteration_id, actor, reason))
    if "tags" in data:
        old_pairs = [] if created else _tag_links_read(idea_id=idea.pk)
        old_tags = sorted(name for _, name in old_pairs)
        tags = _tags_resolve(theme=idea.theme, names=data["tags"])
        new_tags = [t.name for t in tags]
        if new_tags != old_tags:
            old_ids = {pk for pk, _ in old_pairs}
            new_ids = {tag.pk for tag in tags}
            _tag_links_write(
                idea_id=idea.pk, remove=sorted(old_ids - new_ids), add=sorted(new_ids - old_ids)
            )
            getattr(idea, "_prefetched_objects_cache", {}).pop("tags", None)
            if tag_moves is not None and idea.status in Idea.VISIBLE_STATUSES:
                for pk, _ in old_pairs:
                    tag_moves[pk] = tag_moves.get(pk, 0) - 1
                for tag in tags:
                    tag_moves[tag.pk] = tag_moves.get(tag.pk, 0) + 1
            changes.append(_change(idea, "tags", old_tags, new_tags, iteration_id, actor, reason))
    if data.get("related"):
        old_related = [] if created else sorted(idea.related.values_list("pk", flat=True))
        found = sorted(
            {i.pk for i in ideas_visible(theme_id=idea.theme_id, ids=data["related"])} - {idea.pk}
        )
        new_related = sorted(set(old_related) | set(found)) if related_mode == "add" else found
        if new_related != old_related:
            idea.related.set(new_related)
            changes.append(
                _change(idea, "related", old_related, new_related, iteration_id, actor, reason)
            )
    return changes


#: The columns every content or score change writes besides the changed fields.
_ALWAYS_WRITTEN = ("priority", "updated_by_iteration_id", "updated_at")
_COLUMNS = frozenset(f.attname for f in Idea._meta.concrete_fields)
_IDEA_FIELDS = tuple(f.name for f in Idea._meta.concrete_fields)


def _save_with_changes(idea: Idea, changes: list[IdeaChange], iteration_id: int | None) -> None:
    """Write the changed columns of a locked ``idea`` and its change rows.

    Only the columns that changed (and what follows from them: the fingerprint with the
    title, the priority, who and when) are written: the others hold what was read under
    the lock, so the row ends the same as a full save, with a shorter statement.
    """
    if iteration_id is not None:
        idea.updated_by_iteration_id = iteration_id
    _priority_refresh(idea)
    changed = {c.field for c in changes}
    _idea_validate(idea, changed=changed)
    columns = {name for name in changed if name in _COLUMNS}
    if "title" in columns:
        columns.add("fingerprint")
    # Written out (the ORM's save and bulk_create cost several times the statements):
    # the same UPDATE of the same columns, ``updated_at`` set as ``auto_now`` sets it.
    idea.updated_at = timezone.now()
    names = sorted(columns.union(_ALWAYS_WRITTEN))
    assign = {name: getattr(idea, name) for name in names}
    if not sql.rows_update(Idea, where={"id": idea.pk}, assign=assign):
        raise DatabaseError("Save with update_fields did not affect any rows.")
    sql.rows_insert(IdeaChange, changes)


#: The score columns the database checks to lie in the score range.
_RANGE_CHECKED = (*SCORE_FIELDS, *(f"human_{f}" for f in SCORE_FIELDS))


def _idea_validate(idea: Idea, *, changed: set[str]) -> None:
    """``full_clean`` of an idea read from the database, without a query per constraint.

    Django checks each of the twelve score-range constraints with its own query (and a
    savepoint around it) and re-reads the theme to validate the foreign key: half of an
    iteration's queries. The theme was read with the row and cannot change here; the
    ranges are checked in Python with the constraints' own messages; the fingerprint's
    uniqueness is asked of the database only when the title, and so the fingerprint,
    changed.
    """
    errors: dict[str, list[ValidationError]] = {}
    try:
        idea.full_clean(exclude=["theme", "reviewed_by"], validate_constraints=False)
    except ValidationError as exc:
        errors = exc.update_error_dict(errors)
    by_name = {c.name: c for c in Idea._meta.constraints}
    for name in _RANGE_CHECKED:
        value = getattr(idea, name)
        if value is not None and not SCORE_MIN <= value <= SCORE_MAX:
            constraint = by_name[f"ideas_idea_{name}_range"]
            errors.setdefault(NON_FIELD_ERRORS, []).append(
                ValidationError(
                    constraint.get_violation_error_message(),
                    code=constraint.violation_error_code,
                )
            )
    if "title" in changed:
        keep = {"theme", "fingerprint"}
        try:
            idea.validate_constraints(exclude={f.name for f in Idea._meta.concrete_fields} - keep)
        except ValidationError as exc:
            errors = exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


# --- services -----------------------------------------------------------------------------


def _idea_by_fingerprint(*, theme: Theme, fingerprint: str) -> Idea | None:
    return Idea.objects.filter(theme=theme, fingerprint=fingerprint).first()


def idea_upsert(
    *, theme: Theme, data: Mapping[str, Any], iteration_id: int | None, actor: Actor = None
) -> tuple[Idea, bool]:
    """Create the idea, or update the one with the same normalised title in this theme.

    Returns ``(idea, created)``. A repeated delivery of the same answer finds the same
    row by fingerprint and changes nothing, so it never duplicates an idea. Related ids
    are added to the existing links, never removed. Archived and refused ideas are not
    revived by a model proposal: the row is returned unchanged.

    Raises ``IdeaRefused`` after recording an ``IdeaRefusal`` when the content crosses a
    taboo or the built-in line; called inside the caller's transaction, catch it there
    to keep the refusal row. Raises ``IdeaDataInvalid`` when ``data`` breaks the schema.
    """
    clean = _data_normalise(data)
    fingerprint = idea_fingerprint(clean["title"])
    existing = _idea_by_fingerprint(theme=theme, fingerprint=fingerprint)
    _refuse_if_crossing(
        theme=theme, data=clean, iteration_id=iteration_id, idea=existing, actor=actor
    )
    with transaction.atomic():
        if existing is None:
            try:
                with transaction.atomic():
                    return _idea_create(
                        theme=theme,
                        data=clean,
                        fingerprint=fingerprint,
                        iteration_id=iteration_id,
                        actor=actor,
                    ), True
            except IntegrityError:
                # Another worker delivered the same idea between our read and insert.
                pass
        idea = Idea.objects.select_for_update().get(theme=theme, fingerprint=fingerprint)
        if idea.status not in Idea.VISIBLE_STATUSES:
            return idea, False
        # The title is the idea's identity here: a re-delivery spelled "Mug set!" instead
        # of "mug set" is the same idea, not a rename (renames go through idea_update).
        update = {k: v for k, v in clean.items() if k != "title"}
        before = counted(idea)
        tag_moves: dict[int, int] = {}
        changes = _changes_apply(
            idea=idea,
            data=update,
            iteration_id=iteration_id,
            actor=actor,
            reason="",
            tag_moves=tag_moves,
        )
        if changes:
            _save_with_changes(idea, changes, iteration_id)
            counters_move(theme_id=theme.pk, changes=[(before, counted(idea))], tags=tag_moves)
            audit_log(
                action="ideas.idea_updated",
                actor=actor,
                subject=idea,
                data={"fields": [c.field for c in changes], "iteration_id": iteration_id},
            )
        return idea, False


@sql.statement
def _fingerprints_taken_sql() -> str:
    return (
        f"SELECT {sql.column(Idea, 'fingerprint')} FROM {sql.table(Idea)} "  # noqa: S608 - model names
        f"WHERE {sql.column(Idea, 'theme')} = %s AND {sql.column(Idea, 'fingerprint')} IN"
    )


def _fingerprints_taken(*, theme_id: int, fingerprints: Sequence[str]) -> set[str]:
    """Which of ``fingerprints`` the theme's ideas already have: ``Idea.objects.filter(
    theme_id=..., fingerprint__in=...).values_list("fingerprint", flat=True)``, written
    out (the ORM's query building cost several times the indexed statement)."""
    if not fingerprints:
        return set()
    marks = sql.placeholders(len(fingerprints))
    rows = sql.rows_fetch(f"{_fingerprints_taken_sql()} ({marks})", [theme_id, *fingerprints])
    return {fingerprint for (fingerprint,) in rows}


@dataclass
class Upserted:
    """What ``ideas_upsert`` did with one proposal: an idea (new or found), or the error
    (``IdeaRefused`` after recording the refusal, ``IdeaDataInvalid``) that stopped it."""

    idea: Idea | None = None
    created: bool = False
    error: IdeaRefused | IdeaDataInvalid | None = None


def ideas_upsert(
    *,
    theme: Theme,
    proposals: Sequence[Mapping[str, Any]],
    iteration_id: int | None,
    actor: Actor = None,
) -> list[Upserted]:
    """``idea_upsert`` for several proposals at a fixed number of queries; one result each.

    New ideas (the common case) are inserted together, with their tags, links, change
    rows and audit events, one insert each. A proposal that names an idea already in the
    portfolio (or one earlier in the batch) goes through ``idea_upsert`` one by one, as
    does the whole batch when a concurrent writer inserted one of its ideas between the
    read and the insert (the fingerprint constraint fails the insert; nothing is
    doubled). Call it inside the caller's transaction, like ``idea_upsert``.
    """
    results = [Upserted() for _ in proposals]
    cleaned: dict[int, dict[str, Any]] = {}
    for index, data in enumerate(proposals):
        try:
            cleaned[index] = _data_normalise(data)
        except IdeaDataInvalid as exc:
            results[index].error = exc
    prints = {index: idea_fingerprint(clean["title"]) for index, clean in cleaned.items()}
    taken = _fingerprints_taken(theme_id=theme.pk, fingerprints=sorted(set(prints.values())))
    one_by_one: list[int] = []
    fresh: list[tuple[int, Idea]] = []
    for index, clean in cleaned.items():
        fingerprint = prints[index]
        if fingerprint in taken:
            one_by_one.append(index)
            continue
        reasons = content_violations(text=idea_text(clean), taboos=theme.ip_profile.taboos)
        if reasons:
            refusal = _refusal_record(
                theme=theme,
                data=clean,
                reasons=reasons,
                iteration_id=iteration_id,
                idea=None,
                actor=actor,
            )
            results[index].error = IdeaRefused(reasons, refusal)
            continue
        taken.add(fingerprint)
        fresh.append((index, _idea_build(theme, clean, fingerprint, iteration_id)))
    if fresh:
        try:
            with transaction.atomic():
                _ideas_insert(
                    theme=theme,
                    fresh=[(idea, cleaned[index]) for index, idea in fresh],
                    iteration_id=iteration_id,
                    actor=actor,
                )
        except IntegrityError:
            # Another worker delivered one of these ideas between our read and insert.
            one_by_one = sorted(one_by_one + [index for index, _ in fresh])
        else:
            for index, idea in fresh:
                results[index] = Upserted(idea=idea, created=True)
    for index in one_by_one:
        try:
            idea, created = idea_upsert(
                theme=theme, data=proposals[index], iteration_id=iteration_id, actor=actor
            )
        except (IdeaRefused, IdeaDataInvalid) as exc:
            results[index] = Upserted(error=exc)
        else:
            results[index] = Upserted(idea=idea, created=created)
    return results


def _idea_build(
    theme: Theme, data: Mapping[str, Any], fingerprint: str, iteration_id: int | None
) -> Idea:
    idea = Idea(
        theme=theme,
        fingerprint=fingerprint,
        created_by_iteration_id=iteration_id,
        updated_by_iteration_id=iteration_id,
        **{name: data.get(name, "") for name in TEXT_FIELDS},
        **{name: (data.get("scores") or {}).get(name) for name in SCORE_FIELDS},
    )
    _priority_refresh(idea)
    # The theme is a row in hand; the insert itself enforces the fingerprint.
    idea.full_clean(exclude=["theme"], validate_constraints=False)
    return idea


def _ideas_insert(
    *,
    theme: Theme,
    fresh: Sequence[tuple[Idea, Mapping[str, Any]]],
    iteration_id: int | None,
    actor: Actor,
) -> None:
    """Insert new ideas with their tags and links, change rows and audit events.

    The ideas, their tag links and change rows go in with ``rows_insert`` (one statement
    each, what ``bulk_create`` sends, without its per-call machinery).
    """
    sql.rows_insert(Idea, [idea for idea, _ in fresh])
    tags = {
        tag.name: tag
        for tag in _tags_resolve(
            theme=theme, names=[name for _, data in fresh for name in data.get("tags") or []]
        )
    }
    wanted_related = {pk for _, data in fresh for pk in data.get("related") or []}
    visible_related = {i.pk for i in ideas_visible(theme_id=theme.pk, ids=wanted_related)}
    tag_links, related_links, changes = [], [], []
    for idea, data in fresh:
        changes.append(_change(idea, "created", None, idea.title, iteration_id, actor, ""))
        if "tags" in data:
            names = sorted({tag_normalise(n) for n in data["tags"] if tag_normalise(n)})
            tag_links += [Idea.tags.through(idea_id=idea.pk, tag_id=tags[n].pk) for n in names]
            if names:
                changes.append(_change(idea, "tags", [], names, iteration_id, actor, ""))
        related = sorted(set(data.get("related") or []) & visible_related - {idea.pk})
        for pk in related:  # symmetrical: a link is a row each way
            related_links.append(Idea.related.through(from_idea_id=idea.pk, to_idea_id=pk))
            related_links.append(Idea.related.through(from_idea_id=pk, to_idea_id=idea.pk))
        if related:
            changes.append(_change(idea, "related", [], related, iteration_id, actor, ""))
    sql.rows_insert(Idea.tags.through, tag_links)
    if related_links:
        Idea.related.through.objects.bulk_create(related_links, ignore_conflicts=True)
    sql.rows_insert(IdeaChange, changes)
    # New ideas are candidates, so visible: each tag link is one more visible idea.
    tag_moves: dict[int, int] = {}
    for link in tag_links:
        tag_moves[link.tag_id] = tag_moves.get(link.tag_id, 0) + 1
    counters_move(
        theme_id=theme.pk,
        changes=[(None, counted(idea)) for idea, _ in fresh],
        tags=tag_moves,
    )
    audit_log_many(
        entries=[
            AuditEntry(
                action="ideas.idea_created",
                actor=actor,
                subject=idea,
                data={"title": idea.title, "iteration_id": iteration_id},
            )
            for idea, _ in fresh
        ]
    )


def _idea_create(
    *,
    theme: Theme,
    data: Mapping[str, Any],
    fingerprint: str,
    iteration_id: int | None,
    actor: Actor,
) -> Idea:
    idea = Idea(
        theme=theme,
        fingerprint=fingerprint,
        created_by_iteration_id=iteration_id,
        updated_by_iteration_id=iteration_id,
        **{name: data.get(name, "") for name in TEXT_FIELDS},
        **{name: (data.get("scores") or {}).get(name) for name in SCORE_FIELDS},
    )
    _priority_refresh(idea)
    idea.full_clean(validate_constraints=False)  # the insert itself enforces the fingerprint
    idea.save()
    changes = [_change(idea, "created", None, idea.title, iteration_id, actor, "")]
    rest = {k: v for k, v in data.items() if k in ("tags", "related")}
    tag_moves: dict[int, int] = {}
    changes += _changes_apply(
        idea=idea,
        data=rest,
        iteration_id=iteration_id,
        actor=actor,
        reason="",
        created=True,
        tag_moves=tag_moves,
    )
    sql.rows_insert(IdeaChange, changes)
    counters_move(theme_id=theme.pk, changes=[(None, counted(idea))], tags=tag_moves)
    audit_log(
        action="ideas.idea_created",
        actor=actor,
        subject=idea,
        data={"title": idea.title, "iteration_id": iteration_id},
    )
    return idea


def idea_update(
    *,
    idea: Idea,
    changes: Mapping[str, Any],
    iteration_id: int | None,
    reason: str = "",
    actor: Actor = None,
) -> list[str]:
    """Apply field changes (text fields, tags, related, scores) to an existing idea.

    Returns the names of the fields that changed (empty when nothing did). The content
    after the change is checked against the taboos and the built-in line; a crossing is
    recorded and raises ``IdeaRefused`` with the idea untouched. A title change that
    would collide with another idea's title is skipped.
    """
    # No savepoint inside the caller's transaction (the editor's persist, one per edit):
    # an edit refused for the idea's state or its data is raised after the block, which
    # then has written nothing, so the caller's transaction goes on; any other failure
    # fails the caller's transaction with it, so nothing is left half written.
    refused: IdeaTransitionError | IdeaDataInvalid | None = None
    reasons: list[str] = []
    rows: list[IdeaChange] = []
    with transaction.atomic(savepoint=False):
        locked = _idea_locked_read(idea.pk)
        merged = {name: getattr(locked, name) for name in TEXT_FIELDS}
        wanted: dict[str, Any] = {}
        try:
            if locked.status not in Idea.VISIBLE_STATUSES:
                raise IdeaTransitionError(f"a {locked.status} idea cannot be edited")
            # The title keeps the schema's required field satisfied for a partial change.
            wanted = _data_normalise({"title": locked.title, **changes})
        except (IdeaTransitionError, IdeaDataInvalid) as exc:
            refused = exc
        else:
            if "title" not in changes:
                wanted.pop("title")
            reasons = content_violations(
                text=idea_text({**merged, **wanted}), taboos=locked.theme.ip_profile.taboos
            )
        if refused is None and not reasons:
            before = counted(locked)
            tag_moves: dict[int, int] = {}
            rows = _changes_apply(
                idea=locked,
                data=wanted,
                iteration_id=iteration_id,
                actor=actor,
                reason=reason,
                tag_moves=tag_moves,
            )
            if rows:
                _save_with_changes(locked, rows, iteration_id)
                counters_move(
                    theme_id=locked.theme_id, changes=[(before, counted(locked))], tags=tag_moves
                )
                audit_log(
                    action="ideas.idea_updated",
                    actor=actor,
                    subject=locked,
                    data={
                        "fields": [c.field for c in rows],
                        "iteration_id": iteration_id,
                        "reason": reason[:600],
                    },
                )
    if refused is not None:
        raise refused
    if reasons:
        # Recorded outside the block above so that raising does not roll it back.
        refusal = _refusal_record(
            theme=locked.theme,
            data={**merged, **wanted},
            reasons=reasons,
            iteration_id=iteration_id,
            idea=locked,
            actor=actor,
        )
        raise IdeaRefused(reasons, refusal)
    _idea_refresh_from(idea, locked)
    return [c.field for c in rows]


@sql.statement
def _idea_locked_read_sql() -> str:
    """The ORM's ``select_for_update(of=("self",)).select_related("theme__ip_profile")
    .only(*_IDEA_FIELDS, "theme__ip_profile__taboos").get(pk=...)``, written out."""
    idea, theme, brand = sql.table(Idea), sql.table(Theme), sql.table(IPProfile)
    features = connections["default"].features
    lock = ""
    if features.has_select_for_update:  # SQLite: the IMMEDIATE transaction is the lock
        # OF the idea only, not the theme row every writer shares.
        lock = f" FOR UPDATE OF {idea}" if features.has_select_for_update_of else " FOR UPDATE"
    return (
        f"SELECT {sql.columns(Idea, alias=idea)}, "  # noqa: S608 - names from model metadata
        f"{theme}.{sql.column(Theme, 'ip_profile')}, {brand}.{sql.column(IPProfile, 'taboos')} "
        f"FROM {idea} INNER JOIN {theme} ON ({idea}.{sql.column(Idea, 'theme')} = "
        f"{theme}.{sql.column(Theme, 'id')}) INNER JOIN {brand} ON "
        f"({theme}.{sql.column(Theme, 'ip_profile')} = {brand}.{sql.column(IPProfile, 'id')}) "
        f"WHERE {idea}.{sql.column(Idea, 'id')} = %s{lock}"
    )


def _idea_locked_read(pk: int) -> Idea:
    """The idea ``pk`` locked for update, with its theme and brand cached as the ORM form
    leaves them (only the brand's taboos loaded, the content is checked against them;
    not the brand's texts and JSON documents, decoded on every edit)."""
    rows = sql.rows_fetch(_idea_locked_read_sql(), [pk])
    if not rows:
        raise Idea.DoesNotExist("Idea matching query does not exist.")
    width = len(Idea._meta.concrete_fields)
    row = rows[0]
    (idea,) = sql.models_from_rows(Idea, [row[:width]])
    ip_profile_id, taboos = row[width:]
    taboos = sql.value_from_db(IPProfile, "taboos", taboos)
    brand = IPProfile.from_db("default", ["id", "taboos"], [ip_profile_id, taboos])
    theme = Theme.from_db("default", ["id", "ip_profile_id"], [idea.theme_id, ip_profile_id])
    Theme.ip_profile.field.set_cached_value(theme, brand)
    Idea.theme.field.set_cached_value(idea, theme)
    return idea


def _idea_refresh_from(idea: Idea, locked: Idea) -> None:
    """``idea.refresh_from_db()`` without the query: ``locked`` is the row as just written
    under its lock. Like ``refresh_from_db``, a cached relation whose key changed and the
    prefetched tags and links are dropped (the tags may have changed)."""
    for field in Idea._meta.concrete_fields:
        value = getattr(locked, field.attname)
        if (
            isinstance(field, models.ForeignKey)
            and field.is_cached(idea)
            and getattr(idea, field.attname) != value
        ):
            field.delete_cached_value(idea)
        setattr(idea, field.attname, value)
    idea._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    idea._state.db = locked._state.db
    idea._state.adding = False
