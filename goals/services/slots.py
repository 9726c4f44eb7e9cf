"""Loop slots: at most ``BIZAGENT_LOOP_CONCURRENCY`` iterations at once, across every
cluster, and none held by the dead.

A tick leases a slot by compare-and-set (``UPDATE … WHERE owner = '' OR expires_at <
now``: of two ticks that try one slot, exactly one changes the row), holds it with a
short lease that a heartbeat thread renews while the tick lives (through a model call of
``BIZAGENT_LLM_TIMEOUT``), and frees it at the end. The same heartbeat renews the lease
of the task the tick works on. A tick whose process is killed stops beating, so its slot
and its task are free again within a lease (about a minute), not after the lease plus
the whole task timeout as with the cache lock this replaces.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from types import TracebackType
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from decisions.services import audit_log
from goals.conf import conf
from goals.models import LoopSlot
from goals.services.iteration import IterationReport, iteration_run
from goals.services.queue import task_leases_renew

logger = logging.getLogger(__name__)

#: How long a busy foreground loop waits before it asks for a slot again.
BUSY_WAIT_SECONDS = 5.0


def _slots_ensure(count: int) -> None:
    if LoopSlot.objects.filter(number__lte=count).count() < count:
        # Insert-if-absent: two ticks creating the rows at once both succeed.
        LoopSlot.objects.bulk_create(
            [LoopSlot(number=n) for n in range(1, count + 1)], ignore_conflicts=True
        )


def loop_slot_claim(*, worker: str, now: dt.datetime | None = None) -> int | None:
    """Lease a free (or lapsed) loop slot to ``worker``; its number, or None when every
    slot is held by a live owner.

    Taking over a lapsed slot means its owner died mid-iteration: that is audited, so a
    person can see crashes; ordinary claims and releases are not (one per tick).
    """
    settings = conf()
    now = now or timezone.now()
    _slots_ensure(settings.loop_concurrency)
    expires = now + dt.timedelta(seconds=settings.slot_lease_seconds)
    candidates = LoopSlot.objects.filter(number__lte=settings.loop_concurrency).filter(
        Q(owner="") | Q(expires_at__lt=now)
    )
    for number, owner in candidates.order_by("number").values_list("number", "owner"):
        with transaction.atomic():
            # The owner read a moment ago is part of the condition: if another tick took
            # the slot meanwhile, nothing changes and we try the next one.
            free = Q(owner="") if not owner else Q(owner=owner, expires_at__lt=now)
            claimed = LoopSlot.objects.filter(free, number=number).update(
                owner=worker, expires_at=expires, claimed_at=now
            )
            if claimed and owner:
                audit_log(
                    action="goals.loop_slot_reclaimed",
                    subject=LoopSlot.objects.get(number=number),
                    data={"slot": number, "dead_owner": owner, "owner": worker},
                )
        if claimed:
            if owner:
                logger.warning("loop slot %s: lease of %s lapsed; taken over", number, owner)
            return number
    return None


def loop_slot_renew(*, worker: str, slot: int, now: dt.datetime | None = None) -> bool:
    """Extend ``worker``'s lease on ``slot``; False when it is no longer ``worker``'s."""
    now = now or timezone.now()
    return bool(
        LoopSlot.objects.filter(number=slot, owner=worker).update(
            expires_at=now + dt.timedelta(seconds=conf().slot_lease_seconds)
        )
    )


def loop_slot_release(*, worker: str, slot: int) -> bool:
    """Free ``slot`` if ``worker`` still holds it (a late worker frees nothing)."""
    return bool(
        LoopSlot.objects.filter(number=slot, owner=worker).update(
            owner="", expires_at=None, claimed_at=None
        )
    )


class LeaseHeartbeat:
    """A small thread that renews a live worker's slot and task leases.

    The first beat comes one interval after the start, so a short iteration never
    touches the database from a second thread. Errors are logged, never raised: a
    missed beat at worst lets a lease lapse, which the lease checks already handle.
    """

    def __init__(self, *, worker: str, slot: int | None, interval: float | None = None):
        self.worker = worker
        self.slot = slot
        self.interval = interval if interval is not None else conf().heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-heartbeat-{worker}", daemon=True
        )
        self.beats = 0

    def beat(self) -> None:
        """Renew once: the slot (if any) and every task lease the worker holds."""
        if self.slot is not None and not loop_slot_renew(worker=self.worker, slot=self.slot):
            logger.warning("loop slot %s is no longer held by %s", self.slot, self.worker)
        task_leases_renew(worker=self.worker)
        self.beats += 1

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                try:
                    self.beat()
                except Exception:
                    logger.exception("lease heartbeat of %s failed", self.worker)
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> LeaseHeartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def iteration_run_in_slot(
    *, worker: str, scheduled: bool, client: Any = None, now: dt.datetime | None = None
) -> IterationReport:
    """One iteration in a loop slot, with leases kept alive by a heartbeat; ``busy``
    when every slot is held by a live worker. Used by the scheduled tick and the
    foreground ``runloop`` alike, so however they are mixed the limit holds."""
    slot = loop_slot_claim(worker=worker, now=now)
    if slot is None:
        count = conf().loop_concurrency
        return IterationReport(
            "busy",
            f"all {count} loop slot(s) are held by running iterations",
            wait_seconds=BUSY_WAIT_SECONDS,
        )
    try:
        with LeaseHeartbeat(worker=worker, slot=slot):
            return iteration_run(worker=worker, scheduled=scheduled, client=client, now=now)
    finally:
        loop_slot_release(worker=worker, slot=slot)


def loop_slots_free(*, now: dt.datetime | None = None) -> int:
    """How many slots no live owner holds (for fanning ticks out to fill them)."""
    settings = conf()
    now = now or timezone.now()
    held = (
        LoopSlot.objects.filter(number__lte=settings.loop_concurrency)
        .exclude(owner="")
        .filter(expires_at__gte=now)
        .count()
    )
    return max(0, settings.loop_concurrency - held)
