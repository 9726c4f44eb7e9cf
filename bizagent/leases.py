"""One claim-with-lease pattern for every queue: tasks, outbox rows, mails, applies.

A claim is a lease: an owner and an expiry written by one compare-and-set ``UPDATE``
whose ``WHERE`` says the row is free (no owner) or its lease lapsed, so of two workers
racing for a row exactly one changes it, and a row whose worker died is claimable again
once the expiry passes. Renewing and releasing name the owner in their ``WHERE`` too, so
a worker that stalled past its lease (and lost the row) changes nothing, and learns it
from the count. Each function takes the queryset of the rows meant (with the queue's
own conditions: status, due time) and returns how many rows it changed.

No row is read first and no lock is held: the database arbitrates in one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet


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
