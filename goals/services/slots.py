"""Loop slots: at most ``BIZAGENT_LOOP_CONCURRENCY`` iterations at once, across every
cluster, and none held by the dead.

A tick leases a slot by compare-and-set (``bizagent.leases``: ``UPDATE … WHERE owner =
'' OR expires_at <= now``: of two ticks that try one slot, exactly one changes the row),
holds it with a short lease that a heartbeat thread renews while the tick lives (through
a model call of ``BIZAGENT_LLM_TIMEOUT``), and frees it at the end. The same heartbeat
renews the lease of the task the tick works on. A tick whose process is killed stops
beating, so its slot and its task are free again within a lease (about a minute), not
after the lease plus the whole task timeout as with the cache lock this replaces.

Each slot also carries the duty cycle's rest after its last iteration, and the tokens
reserved by the iteration admitted in it:

- the rest is per slot (work / (work + rest) = duty cycle in every slot), so K slots
  deliver K × duty cycle of continuous work, however their iterations interleave; a
  single loop-wide rest, written by whichever slot finished last, made the duty cycle
  depend on the overlap and stopped every slot when one rested;
- the budget check counts what is in flight: a slot is admitted only while today's
  recorded tokens plus the reservations of the other admitted slots are under the
  budget, checked and reserved in one transaction that locks the slot rows, so K slots
  cannot all start on the last tokens of the day.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from bizagent.leases import LeaseFields, lease_claim, lease_release, lease_renew
from bizagent.llm.types import ChatClient
from decisions.services import audit_log
from goals.conf import conf
from goals.models import Iteration, LoopSlot
from goals.selectors import tokens_granted_today, tokens_used_today
from goals.services import wake
from goals.services.iteration import IterationReport, iteration_run
from goals.services.queue import task_leases_renew
from ideas.models import Theme
from ideas.selectors import theme_active

logger = logging.getLogger(__name__)

#: How long a busy foreground loop waits before it asks for a slot again.
BUSY_WAIT_SECONDS = 5.0


def _slots_ensure(count: int) -> None:
    if LoopSlot.objects.filter(number__lte=count).count() < count:
        # Insert-if-absent: two ticks creating the rows at once both succeed.
        LoopSlot.objects.bulk_create(
            [LoopSlot(number=n) for n in range(1, count + 1)], ignore_conflicts=True
        )


#: A slot's lease columns (``owner``, ``expires_at``; "" when nobody holds it).
SLOT_LEASE = LeaseFields(owner="owner", expires_at="expires_at", unowned="")


def _lease_duration() -> dt.timedelta:
    return dt.timedelta(seconds=conf().slot_lease_seconds)


def loop_slot_claim(
    *, worker: str, now: dt.datetime | None = None, rest_within: float = 0.0
) -> int | None:
    """Lease a free (or lapsed) loop slot to ``worker``; its number, or None when every
    slot is held by a live owner or rests longer than ``rest_within`` seconds.

    A rested slot is taken first, then the one whose rest ends soonest: its claimer
    waits the rest out holding it (``iteration_run_in_slot``), so one tick waits per slot.
    Taking over a lapsed slot means its owner died mid-iteration: that is audited, so a
    person can see crashes; ordinary claims and releases are not (one per tick).
    """
    settings = conf()
    now = now or timezone.now()
    _slots_ensure(settings.loop_concurrency)
    rested_by = now + dt.timedelta(seconds=max(0.0, rest_within))
    candidates = (
        LoopSlot.objects.filter(number__lte=settings.loop_concurrency)
        .filter(SLOT_LEASE.free(now))
        .filter(Q(rest_until__isnull=True) | Q(rest_until__lte=rested_by))
        .order_by(F("rest_until").asc(nulls_first=True), "number")
    )
    for number, owner in candidates.values_list("number", "owner"):
        with transaction.atomic():
            # The owner read a moment ago is part of the condition: if another tick took
            # the slot meanwhile, nothing changes and we try the next one.
            claimed = lease_claim(
                LoopSlot.objects.filter(number=number, owner=owner),
                owner=worker,
                now=now,
                duration=_lease_duration(),
                fields=SLOT_LEASE,
                claimed_at=now,
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
    return bool(
        lease_renew(
            LoopSlot.objects.filter(number=slot),
            owner=worker,
            now=now or timezone.now(),
            duration=_lease_duration(),
            fields=SLOT_LEASE,
        )
    )


def loop_slot_release(
    *, worker: str, slot: int, rest_seconds: float = 0.0, now: dt.datetime | None = None
) -> bool:
    """Free ``slot`` if ``worker`` still holds it (a late worker frees nothing), with the
    rest its iteration earned (none: a rest already set stays) and no reservation."""
    changes: dict[str, Any] = {"claimed_at": None, "reserved_tokens": 0}
    if rest_seconds > 0:
        changes["rest_until"] = (now or timezone.now()) + dt.timedelta(seconds=rest_seconds)
    return bool(
        lease_release(
            LoopSlot.objects.filter(number=slot), owner=worker, fields=SLOT_LEASE, **changes
        )
    )


def loop_slot_rest_left(*, slot: int, now: dt.datetime | None = None) -> float:
    """Seconds until ``slot``'s rest ends (0 when it is not resting)."""
    now = now or timezone.now()
    rest_until = LoopSlot.objects.filter(number=slot).values_list("rest_until", flat=True).first()
    return max(0.0, (rest_until - now).total_seconds()) if rest_until else 0.0


def loop_slots_rest_soonest(*, now: dt.datetime | None = None) -> float | None:
    """Seconds until the first slot no live owner holds is rested (0: one is now), or
    None when every slot is held by a live owner."""
    settings = conf()
    now = now or timezone.now()
    unowned = LoopSlot.objects.filter(number__lte=settings.loop_concurrency).filter(
        SLOT_LEASE.free(now)
    )
    rests = list(unowned.values_list("rest_until", flat=True))
    if not rests:
        return None
    return min(max(0.0, (r - now).total_seconds()) if r else 0.0 for r in rests)


#: Iterations averaged to estimate what one in flight will spend.
RESERVATION_SAMPLE = 20


def tokens_per_iteration_estimate(*, theme: Theme) -> int:
    """What an iteration in flight is expected to spend: the mean of the theme's recent
    iterations that called the model (0 before the first, which nothing can improve)."""
    rows = list(
        Iteration.objects.filter(theme=theme, model_calls__gt=0)
        .order_by("-id")
        .values_list("prompt_tokens", "completion_tokens")[:RESERVATION_SAMPLE]
    )
    if not rows:
        return 0
    return round(sum(p + c for p, c in rows) / len(rows))


def loop_slot_admit(
    *, worker: str, slot: int, theme: Theme, now: dt.datetime | None = None
) -> IterationReport | None:
    """Reserve this slot's share of today's token budget; None when admitted, else a
    ``budget`` report (nothing reserved, nothing requested).

    Spent-out budgets are the budget gate's (it asks a person for more): this check
    refuses only while the recorded tokens are under the budget but those plus what the
    other slots have in flight are not. The slot rows are locked while it reads and
    reserves, so two slots admitted at once each count the other.
    """
    now = now or timezone.now()
    allowed = theme.daily_token_budget + tokens_granted_today(theme=theme, now=now)
    estimate = tokens_per_iteration_estimate(theme=theme)
    with transaction.atomic():
        slots = list(
            LoopSlot.objects.select_for_update()
            .filter(number__lte=max(slot, conf().loop_concurrency))
            .order_by("number")
        )
        # Reservations are read before the recorded tokens: an iteration that records
        # its tokens and then frees its slot is counted in one of the two, never neither.
        in_flight = sum(
            s.reserved_tokens
            for s in slots
            if s.number != slot and s.owner and s.expires_at and s.expires_at > now
        )
        used = tokens_used_today(theme=theme, now=now)
        if used < allowed <= used + in_flight:
            detail = (
                f"daily token budget: {used:,} of {allowed:,} tokens used and about "
                f"{in_flight:,} in flight in other slots"
            )
            return IterationReport("budget", detail, wait_seconds=BUSY_WAIT_SECONDS)
        LoopSlot.objects.filter(number=slot, owner=worker).update(reserved_tokens=estimate)
    return None


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


def _iteration_in_held_slot(
    *,
    worker: str,
    slot: int,
    scheduled: bool,
    client: ChatClient | None,
    now: dt.datetime | None,
) -> tuple[IterationReport, float]:
    """Admit and run one iteration in ``slot`` (held by ``worker``); its report and the
    rest the duty cycle asks after it (0 when it did not run)."""
    theme = theme_active()
    if theme is not None:
        refused = loop_slot_admit(worker=worker, slot=slot, theme=theme, now=now)
        if refused is not None:
            return refused, 0.0
    started = timezone.now()
    report = iteration_run(worker=worker, scheduled=scheduled, client=client, now=now)
    if not (report.ran and report.iteration is not None):
        return report, 0.0
    worked = (timezone.now() - started).total_seconds()
    rest = wake.rest_seconds(worked_seconds=worked, duty_cycle=report.iteration.theme.duty_cycle)
    return report, rest


def iteration_run_in_slot(
    *,
    worker: str,
    scheduled: bool,
    client: ChatClient | None = None,
    now: dt.datetime | None = None,
    rest_wait_max: float = 0.0,
    keep_seconds: float = 0.0,
    on_ran: Callable[[IterationReport], None] | None = None,
) -> IterationReport:
    """One iteration in a loop slot (more while ``keep_seconds`` last), with leases kept
    alive by a heartbeat; ``busy`` when every slot is held by a live worker. Used by the
    scheduled tick and the foreground ``runloop`` alike, so however they are mixed the
    limit holds.

    A slot whose rest ends within ``rest_wait_max`` seconds is claimed and its rest slept
    out holding it (the scheduled tick: the rest ends when it ends); with every free
    slot resting longer, ``resting`` says how long (``runloop`` sleeps it out itself).
    After an iteration the slot rests for the duty cycle's share of the time it worked.

    ``keep_seconds``: while that long has not passed since the claim, sleep the rest out
    in the slot and run the next iteration in it, instead of freeing the slot and leaving
    the next iteration to another queued tick. Each iteration still claims its own task
    lease and checks stop, pause and the budget first (``on_ran`` is called after each
    one that ran, the slot still held: the tick fans out from there). What is saved is
    the per-iteration traffic of the queue and the slot (enqueue, dequeue, result,
    acknowledgement, claim, release: two thirds of the write transactions at K = 8 on
    SQLite, whose one write lock ``runloop stop`` queued behind until it timed out).
    Returns the last report.
    """
    slot = loop_slot_claim(worker=worker, now=now, rest_within=rest_wait_max)
    if slot is None:
        soonest = loop_slots_rest_soonest(now=now)
        if soonest:
            return IterationReport("resting", "duty cycle: resting", wait_seconds=soonest)
        count = conf().loop_concurrency
        return IterationReport(
            "busy",
            f"all {count} loop slot(s) are held by running iterations",
            wait_seconds=BUSY_WAIT_SECONDS,
        )
    keep_until = time.monotonic() + max(0.0, keep_seconds)
    rest = 0.0
    try:
        with LeaseHeartbeat(worker=worker, slot=slot):
            left = loop_slot_rest_left(slot=slot, now=now)
            while True:
                if left > 0:
                    wake.sleep(left)
                    now = None  # time has moved on
                report, rest = _iteration_in_held_slot(
                    worker=worker, slot=slot, scheduled=scheduled, client=client, now=now
                )
                now = None
                if report.ran and on_ran is not None:
                    on_ran(report)
                # A rest that would outlast the keep is left to the next tick (a long
                # one to a wake schedule), not slept here holding a worker.
                if not report.ran or time.monotonic() + rest >= keep_until:
                    return report
                _log_kept(slot=slot, report=report)
                left, rest = rest, 0.0
    finally:
        loop_slot_release(worker=worker, slot=slot, rest_seconds=rest)


def _log_kept(*, slot: int, report: IterationReport) -> None:
    # The tick logs its last iteration; these are the ones before it in the same slot.
    it = report.iteration
    if it is not None:
        logger.info(
            "loop slot %s: iteration %s %s/%s %s", slot, it.number, it.role, it.mode, it.outcome
        )


def loop_slots_free(*, now: dt.datetime | None = None) -> int:
    """How many slots no live owner holds (for fanning ticks out to fill them)."""
    settings = conf()
    now = now or timezone.now()
    held = (
        LoopSlot.objects.filter(number__lte=settings.loop_concurrency)
        .exclude(SLOT_LEASE.free(now))
        .count()
    )
    return max(0, settings.loop_concurrency - held)
