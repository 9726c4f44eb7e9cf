"""One claim-with-lease pattern for every queue: tasks, outbox rows, mails, applies.

A claim is a lease: an owner and an expiry written by one compare-and-set ``UPDATE``
whose ``WHERE`` says the row is free (no owner) or its lease lapsed, so of two workers
racing for a row exactly one changes it, and a row whose worker died is claimable again
once the expiry passes. Renewing and releasing name the owner in their ``WHERE`` too, so
a worker that stalled past its lease (and lost the row) changes nothing, and learns it
from the count. Each function takes the queryset of the rows meant (with the queue's
own conditions: status, due time) and returns how many rows it changed.

No row is read first and no lock is held: the database arbitrates in one statement.
``lease_claim_returning`` is the same claim returning the rows it took, as they are
after it (``UPDATE … RETURNING``), for a queue that works on the row it claimed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from django.db import connections
from django.db.models import Model, Q, QuerySet
from django.db.models.sql import UpdateQuery

from bizagent.sql import models_from_rows, rows_fetch, rows_update

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class LeaseFields:
    """Which columns hold a model's lease, and what an unowned row's owner holds."""

    owner: str = "lease_owner"
    expires_at: str = "lease_expires_at"
    #: The owner column's value when nobody holds the row ("" or None).
    unowned: Any = ""

    def free(self, now: datetime, *, take_lapsed: bool = True) -> Q:
        """Rows nobody holds, or (with ``take_lapsed``) whose holder's lease ran out."""
        free = Q(**{self.owner: self.unowned})
        if self.unowned is None:
            free = Q(**{f"{self.owner}__isnull": True})
        if take_lapsed:
            free |= Q(**{f"{self.expires_at}__isnull": True}) | Q(
                **{f"{self.expires_at}__lte": now}
            )
        return free

    def held_by(self, owner: Any) -> Q:
        return Q(**{self.owner: owner})


#: The columns most models use (``lease_owner``, ``lease_expires_at``).
LEASE = LeaseFields()


def lease_claim(
    rows: QuerySet,
    *,
    owner: Any,
    now: datetime,
    duration: timedelta,
    fields: LeaseFields = LEASE,
    take_lapsed: bool = True,
    **changes: Any,
) -> int:
    """Lease the free rows of ``rows`` to ``owner`` until ``now + duration``.

    With ``take_lapsed`` a row whose lease expired is free again (its worker died);
    without it only unowned rows are taken (the caller handles lapsed ones its own way).
    ``changes`` are written in the same statement (a status, an attempt count).
    Returns how many rows were claimed.
    """
    return rows.filter(fields.free(now, take_lapsed=take_lapsed)).update(
        **{fields.owner: owner, fields.expires_at: now + duration}, **changes
    )


def lease_claim_returning(
    rows: QuerySet[M],
    *,
    owner: Any,
    now: datetime,
    duration: timedelta,
    fields: LeaseFields = LEASE,
    take_lapsed: bool = True,
    **changes: Any,
) -> list[M]:
    """``lease_claim``, returning the rows claimed as they are after the claim.

    The same compare-and-set ``UPDATE`` (Django compiles it, as ``lease_claim``'s), with a
    ``RETURNING`` of every column: the claim and the read of what was claimed are one
    statement, so a queue that claims "the first due row" (a subquery in ``rows``) needs
    neither a read before (which row?) nor after (what does it hold now?). Needs a
    database that returns rows from an ``UPDATE`` (``can_return_rows_from_update``).
    """
    sql, params = lease_claim_returning_sql(
        rows,
        owner=owner,
        now=now,
        duration=duration,
        fields=fields,
        take_lapsed=take_lapsed,
        **changes,
    )
    return rows_returned(rows.model, using=rows.db, sql=sql, params=params)


def lease_claim_returning_sql(
    rows: QuerySet,
    *,
    owner: Any,
    now: datetime,
    duration: timedelta,
    fields: LeaseFields = LEASE,
    take_lapsed: bool = True,
    **changes: Any,
) -> tuple[str, tuple[Any, ...]]:
    """The statement ``lease_claim_returning`` runs, compiled (for a caller that keeps it)."""
    query = rows.filter(fields.free(now, take_lapsed=take_lapsed)).query.chain(UpdateQuery)
    update = cast(UpdateQuery, query)  # what ``chain`` made (the stubs say Query)
    update.add_update_values({fields.owner: owner, fields.expires_at: now + duration, **changes})
    update.clear_select_clause()
    compiler = update.get_compiler(rows.db)
    sql, params = compiler.as_sql()
    quote = compiler.connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in rows.model._meta.concrete_fields)
    return f"{sql} RETURNING {columns}", tuple(params)


def rows_returned(model: type[M], *, using: str, sql: str, params: Sequence[Any]) -> list[M]:
    """Run ``sql`` (an ``UPDATE`` returning every concrete column of ``model`` in order)
    and give its rows as ``model`` instances, converted as a query would convert them."""
    return models_from_rows(model, rows_fetch(sql, params, using=using), using=using)


def can_return_rows_from_update(using: str = "default") -> bool:
    """Whether ``lease_claim_returning`` works on ``using``: PostgreSQL, SQLite 3.35+ (the
    same versions that return columns from an ``INSERT``)."""
    return bool(connections[using].features.can_return_columns_from_insert)


def lease_renew(
    rows: QuerySet,
    *,
    owner: Any,
    now: datetime,
    duration: timedelta,
    fields: LeaseFields = LEASE,
) -> int:
    """Extend ``owner``'s leases on ``rows`` to ``now + duration``; how many it held."""
    return rows.filter(fields.held_by(owner)).update(**{fields.expires_at: now + duration})


def lease_release(
    rows: QuerySet, *, owner: Any, fields: LeaseFields = LEASE, **changes: Any
) -> int:
    """Give back ``owner``'s leases on ``rows``, writing ``changes`` (the outcome) in the
    same statement; how many it held (0: the lease had moved on, nothing was written)."""
    return rows.filter(fields.held_by(owner)).update(
        **{fields.owner: fields.unowned, fields.expires_at: None}, **changes
    )


def lease_release_row(
    model: type[Model],
    *,
    pk: Any,
    owner: Any,
    still: Mapping[str, Any] | None = None,
    fields: LeaseFields = LEASE,
    **changes: Any,
) -> int:
    """``lease_release`` of the row ``pk`` of ``model``, as one written-out statement
    (``bizagent.sql``) for a hot path, where building the ORM's update cost ~10 times
    running it. ``still``: columns the row must still hold (its status) for the release
    to happen, beside the owner; 0 when it did not (nothing was written)."""
    if owner is None:
        raise ValueError("a lease is released by its owner, not by nobody")
    return rows_update(
        model,
        where={model._meta.pk.name: pk, **(still or {}), fields.owner: owner},
        assign={fields.owner: fields.unowned, fields.expires_at: None, **changes},
    )
