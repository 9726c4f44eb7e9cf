"""The loop's own state: start, stop, pause, resume, back off, and what it is doing now.

The only writer of ``LoopState``: the iteration's book-keeping (counters, prompt
ids), stagnation (stalled since) and strategy all go through the services below.

Every transition locks the singleton row inside a transaction (``select_for_update`` on
PostgreSQL; SQLite's IMMEDIATE transactions serialise writers), checks the current state,
saves, and writes its audit event in the same transaction. Transitions that would not
change anything are no-ops, not errors: ``newtheme`` pauses and resumes around a theme
switch whatever state the loop is in, and a stopped loop must stay stopped through that.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from bizagent.sql import default_vendor, rows_update
from decisions.actors import Actor
from decisions.services import audit_log
from goals.conf import Conf, conf
from goals.models import LoopState, RolePrompt, Task
from goals.selectors import LOOP_SCHEDULE_NAME, loop_state_get, role_prompt_keep
from goals.services.wake import loop_wake_remove
from goals.stats import prompt_bytes_pack, prompt_ids_bytes
from ideas.models import Theme
from ideas.selectors import theme_active

if TYPE_CHECKING:
    from django_q.models import Schedule

State = LoopState.State
T = TypeVar("T")
logger = logging.getLogger(__name__)

__all__ = ["LOOP_SCHEDULE_NAME", "loop_state_get"]  # re-exported: read from selectors
LOOP_TICK_FUNC = "goals.tasks.loop_tick"

#: What ``runloop start`` says when there is nothing for the loop to work on.
NO_THEME_MESSAGE = (
    "no theme loaded: load one with `python manage.py newtheme --ip-profile FILE --config FILE`"
)


class LoopStartRefused(Exception):
    """The loop cannot start (no theme); nothing was written."""


class LoopTransitionRefused(Exception):
    """A transition ``LoopState.TRANSITIONS`` does not allow; nothing was written."""


class LoopControlBusy(Exception):
    """The database stayed write-locked by others for the whole bounded wait of a
    control transition; nothing was written."""


#: How long a control transition (start, stop, pause, resume) keeps asking for SQLite's
#: write lock before it gives up with ``LoopControlBusy``.
CONTROL_WAIT_SECONDS = 120.0
#: How often it asks meanwhile.
CONTROL_POLL_SECONDS = 0.002


def _control_write(write: Callable[[], T]) -> T:
    """Run ``write`` (one transaction of its own) so that it gets through however many
    writers keep SQLite's one write lock busy, or raise ``LoopControlBusy`` after
    ``CONTROL_WAIT_SECONDS``.

    SQLite's busy handler sleeps ever longer between tries (up to 100 ms each) and is not
    a queue: a waiter among K busy writers loses the lock to every writer that asks in
    between, and at K = 8 ``runloop stop`` timed out behind them after its 30 s. Here
    the connection's own busy wait is switched off and the lock asked for every
    ``CONTROL_POLL_SECONDS``, so the first free moment is the person's. PostgreSQL's row
    locks queue fairly: there (or inside an outer transaction) ``write`` just runs.
    """
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return write()
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        busy_timeout_ms = cursor.fetchone()[0]
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                result = write()
                break
            except OperationalError as exc:
                if "database is locked" not in str(exc):
                    raise
                waited = time.monotonic() - started
                if waited >= CONTROL_WAIT_SECONDS:
                    raise LoopControlBusy(
                        f"the database stayed locked by other writers for {waited:.0f} s; "
                        "the loop was not changed, try again"
                    ) from None
            time.sleep(CONTROL_POLL_SECONDS)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    waited = time.monotonic() - started
    if waited >= 1.0:
        logger.warning("loop control: waited %.1f s for the database's write lock", waited)
    return result


def _ensure() -> None:
    """The row exists (migration 0004 creates it; a flushed test database may not)."""
    if LoopState.objects.filter(pk=LoopState.SINGLETON_ID).exists():
        return
    try:
        with transaction.atomic():
            LoopState.objects.create(pk=LoopState.SINGLETON_ID)
    except IntegrityError:  # another process created it first
        pass


def _locked() -> LoopState:
    # The row nearly always exists: lock it first, create it only when the lock finds
    # nothing (an existence check before every lock cost a query per write).
    state = LoopState.objects.select_for_update().filter(pk=LoopState.SINGLETON_ID).first()
    if state is not None:
        return state
    _ensure()
    return LoopState.objects.select_for_update().get(pk=LoopState.SINGLETON_ID)


def _check(previous: str, to: str) -> None:
    """Every state change is one the table lists: the table is the contract."""
    if previous != to and to not in LoopState.TRANSITIONS[previous]:
        raise LoopTransitionRefused(f"loop: {previous} → {to} is not an allowed transition")


def _transition(
    *,
    to: str,
    allowed_from: tuple[str, ...],
    action: str,
    reason: str,
    actor: Actor = None,
    extra: dict[str, Any] | None = None,
) -> LoopState:
    def write() -> LoopState:
        with transaction.atomic():
            state = _locked()
            if state.state not in allowed_from:
                return state
            previous = state.state
            _check(previous, to)
            state.state = to
            state.reason = reason
            state.state_changed_at = timezone.now()
            for name, value in (extra or {}).items():
                setattr(state, name, value)
            state.full_clean()
            state.save()
            audit_log(
                action=action,
                actor=actor,
                subject=state,
                data={"from": previous, "to": to, "reason": reason},
            )
            return state

    return _control_write(write)


def loop_start(*, actor: Actor = None) -> LoopState:
    """STOPPED or PAUSED → RUNNING, and make sure the django-q2 schedule exists.

    Checks first and writes nothing when it refuses: every loop setting is read and
    validated (``ImproperlyConfigured`` names a bad variable), and a loop without a
    theme would say "running" and do nothing (``LoopStartRefused``). The state, its
    audit row and the schedule are then written in one transaction: a schedule row is
    in the same database, so it is part of the commit rather than a side effect after
    it, and the loop is never "running" without its tick.
    """
    settings = conf()

    def write() -> LoopState:
        with transaction.atomic():
            if theme_active() is None:
                raise LoopStartRefused(NO_THEME_MESSAGE)
            state = _transition(
                to=State.RUNNING,
                allowed_from=(State.STOPPED, State.PAUSED),
                action="goals.loop_started",
                reason="",
                actor=actor,
            )
            loop_schedule_ensure(settings=settings)
        return state

    return _control_write(write)


def loop_stop(*, actor: Actor = None, reason: str = "stopped") -> LoopState:
    """Any state → STOPPED. The state row keeps its counters and strategy; a tick that is
    mid-iteration finishes and records it, and no further tick starts one."""
    state = _transition(
        to=State.STOPPED,
        allowed_from=(State.RUNNING, State.PAUSED, State.BACKING_OFF),
        action="goals.loop_stopped",
        reason=reason,
        actor=actor,
    )
    # No schedule, no idle ticks; the tick checks the state anyway, since a tick that
    # was already queued may still arrive.
    transaction.on_commit(lambda: _control_write(loop_schedule_remove))
    return state


def loop_pause(*, reason: str, actor: Actor = None) -> LoopState:
    """RUNNING or BACKING_OFF → PAUSED; a paused or stopped loop is left as it is."""
    return _transition(
        to=State.PAUSED,
        allowed_from=(State.RUNNING, State.BACKING_OFF),
        action="goals.loop_paused",
        reason=reason or "paused",
        actor=actor,
    )


def loop_resume(*, actor: Actor = None) -> LoopState:
    """PAUSED → RUNNING. A stopped loop stays stopped (``loop_start`` starts it)."""
    return _transition(
        to=State.RUNNING,
        allowed_from=(State.PAUSED,),
        action="goals.loop_resumed",
        reason="",
        actor=actor,
    )


def backoff_delay(failures: int) -> float:
    """Seconds to wait after ``failures`` consecutive model-server failures."""
    settings = conf()
    return min(
        settings.backoff_max_seconds, settings.backoff_base_seconds * 2 ** max(0, failures - 1)
    )


def loop_backoff_enter(
    *, error_class: str, detail: str, now: dt.datetime | None = None
) -> LoopState:
    """The model server failed: wait before the next try, longer after each failure.

    A running loop shows BACKING_OFF; a paused or stopped one keeps its state (the
    foreground ``runloop`` may run while the scheduled loop is stopped) but still records
    the error and the time to wait, which ``status`` and the admin show.
    """
    now = now or timezone.now()
    with transaction.atomic():
        state = _locked()
        previous = state.state
        state.backoff_failures += 1
        state.backoff_until = now + dt.timedelta(seconds=backoff_delay(state.backoff_failures))
        state.last_error_class = error_class
        state.last_error = detail[:4000]
        state.last_error_at = now
        state.reason = f"model server: {error_class}: {detail}"[:4000]
        if previous == State.RUNNING:
            _check(previous, State.BACKING_OFF)
            state.state = State.BACKING_OFF
            state.state_changed_at = now
        state.full_clean()
        state.save()
        if state.backoff_failures == 1:  # one audit row per outage, not per retry
            audit_log(
                action="goals.loop_backing_off",
                subject=state,
                data={"from": previous, "error_class": error_class, "detail": detail[:500]},
            )
    return state


def loop_backoff_clear(*, now: dt.datetime | None = None) -> LoopState:
    """The model server answered again: BACKING_OFF → RUNNING, counters reset."""
    now = now or timezone.now()
    # Nearly every answer finds nothing to clear: say so without a transaction and a
    # lock. A backoff entered right after this read is one entered after this answer.
    state = loop_state_get()
    if state.backoff_until is None and state.backoff_failures == 0:
        return state
    with transaction.atomic():
        state = _locked()
        if _backoff_clear_locked(state, now=now):
            state.save()
    return state


def _backoff_clear_locked(state: LoopState, *, now: dt.datetime) -> bool:
    """Clear the backoff of ``state`` (locked by the caller, who saves it), audited;
    False when there was nothing to clear."""
    if state.backoff_until is None and state.backoff_failures == 0:
        return False
    previous = state.state
    failures = state.backoff_failures
    state.backoff_failures = 0
    state.backoff_until = None
    if previous == State.BACKING_OFF:
        _check(previous, State.RUNNING)
        state.state = State.RUNNING
        state.state_changed_at = now
        state.reason = ""
    elif state.reason.startswith("model server:"):
        state.reason = ""
    state.full_clean()
    audit_log(
        action="goals.loop_recovered",
        subject=state,
        data={"from": previous, "failures": failures},
    )
    return True


def loop_current_set(
    *, task: Task | None, role: str, worker: str, now: dt.datetime | None = None
) -> None:
    """Record what the loop is working on, for ``status`` and the admin panel.

    A plain update of display fields, outside any transition: it races only with itself.
    """
    values = {
        "current_task": task.pk if task is not None else None,
        "current_role": role,
        "current_worker": worker,
        "current_started_at": (now or timezone.now()) if role else None,
    }
    if not _state_write(assign=values):
        _ensure()  # a flushed database: create the row, then write to it
        _state_write(assign=values)


def _state_write(
    *, assign: dict[str, Any], add: dict[str, int] | None = None, no_backoff: bool = False
) -> int:
    """One written-out ``UPDATE`` of the loop's row (``bizagent.sql.rows_update``: on
    every iteration, twice, the ORM's build of it cost ~10 times the statement); with
    ``no_backoff`` only while no backoff is on record. The rows changed (0 or 1)."""
    where: dict[str, Any] = {"id": LoopState.SINGLETON_ID}
    if no_backoff:
        where |= {"backoff_until": None, "backoff_failures": 0}
    return rows_update(LoopState, where=where, assign=assign, add=add)


def loop_schedule_ensure(*, settings: Conf | None = None) -> Schedule:
    """The django-q2 schedule that ticks the loop, created or corrected idempotently."""
    from django_q.models import Schedule

    settings = settings or conf()
    schedule, _ = Schedule.objects.update_or_create(
        name=LOOP_SCHEDULE_NAME,
        defaults={
            "func": LOOP_TICK_FUNC,
            "schedule_type": Schedule.MINUTES,
            "minutes": settings.tick_minutes,
            "repeats": -1,
        },
    )
    return schedule


def loop_schedule_remove() -> int:
    from django_q.models import Schedule

    deleted, _ = Schedule.objects.filter(name=LOOP_SCHEDULE_NAME).delete()
    return deleted + loop_wake_remove()


def loop_iteration_count(
    *,
    role: str,
    tokens: int,
    failed: bool,
    error_class: str = "",
    error_detail: str = "",
    prompt_ids: list[int] | None = None,
    prompt_bytes: bytes | None = None,
    answered: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """Book-keeping after an iteration: counters, the last error,
    what the loop works on (nothing now), and the role's prompt ids for prefix figures.
    ``prompt_bytes``: the same ids already in ``prompt_ids_bytes`` form (the call's own),
    instead of ``prompt_ids``. ``answered``: the model server answered, so a backoff is
    over (``loop_backoff_clear``, done here under the same lock instead of with a read
    and a lock of its own).

    One transaction: the role's prompt ids upserted (``RolePrompt``) and the counters
    moved by one written-out ``UPDATE`` adding to them, which neither loses a concurrent
    iteration's count nor needs the row locked first. Only when a backoff is on record
    and the server answered is the row locked, to end the backoff audited. Not audited
    otherwise: the Iteration row is the record of what happened; this only sums it up
    for ``status``.
    """
    now = now or timezone.now()
    assign: dict[str, Any] = {
        "last_iteration_at": now,
        # The duty cycle's rest is kept per loop slot (goals.services.slots); a loop-wide
        # rest written by whichever slot finished last stopped every slot.
        "rest_until": None,
        "current_task": None,
        "current_role": "",
        "current_worker": "",
        "current_started_at": None,
        "updated_at": now,
    }
    add = {"iterations_total": 1, "tokens_total": tokens}
    if failed:
        add["iterations_failed"] = 1
        if error_class:
            assign |= {
                "last_error_class": error_class[:40],
                "last_error": error_detail[:4000],
                "last_error_at": now,
            }
    # No savepoint inside the caller's transaction (a persisted answer's, whose COMMIT
    # this rides on): an error here fails that transaction all the same.
    with transaction.atomic(savepoint=False):
        if prompt_bytes is None and prompt_ids:
            prompt_bytes = prompt_ids_bytes(prompt_ids)
        if prompt_bytes:
            _role_prompt_write(role=role, data=prompt_bytes, now=now)
        # No backoff on record (nearly always): nothing to clear, a plain update does.
        if _state_write(assign=assign, add=add, no_backoff=True):
            return
        state = _locked()  # creates the row of a flushed database
        if answered and _backoff_clear_locked(state, now=now):
            state.save()
        _state_write(assign=assign, add=add)


#: On SQLite a role's stored prompt and its padding take a multiple of this many bytes
#: (64 kB: ~12,000 tokens of packed ids; a longer prompt takes the next multiple).
ROLE_PROMPT_SLOT = 65_536


def role_prompt_padding(length: int) -> bytes:
    """The zero bytes that bring a stored prompt of ``length`` characters to a multiple of
    ``ROLE_PROMPT_SLOT`` (at least one) on SQLite, where a row rewritten at the same size
    is overwritten in place, page by page, writing only the pages that changed; nothing
    elsewhere (PostgreSQL writes a new row version whatever its size)."""
    if default_vendor() != "sqlite":
        return b""
    slots = max(1, -(-length // ROLE_PROMPT_SLOT))
    return bytes(slots * ROLE_PROMPT_SLOT - length)


def _role_prompt_write(*, role: str, data: bytes, now: dt.datetime) -> None:
    """The role's last prompt ids (``prompt_ids_bytes``) replaced; its row created on the
    role's first call.

    A written-out ``UPDATE`` (``bizagent.sql``) first: the row nearly always exists
    (migration 0014 creates one per role), and the ORM's upsert cost several times it.
    The text written is remembered (``role_prompt_keep``), so the role's next read finds
    it there instead of decoding it; a read that finds another text decodes that.
    """
    text = prompt_bytes_pack(data)
    values = {"ids": text, "updated_at": now, "pad": role_prompt_padding(len(text))}
    if not rows_update(RolePrompt, where={"role": role}, assign=values):
        try:
            with transaction.atomic():  # a savepoint: a lost race must not end the caller's
                RolePrompt.objects.create(role=role, **values)
        except IntegrityError:  # another iteration of the role created it first
            RolePrompt.objects.filter(role=role).update(**values)
    role_prompt_keep(role=role, text=text, data=data)


def loop_tokens_add(*, tokens: int) -> None:
    """Count tokens billed by an answer whose results could not be written."""
    _ensure()
    LoopState.objects.filter(pk=LoopState.SINGLETON_ID).update(
        tokens_total=F("tokens_total") + tokens
    )


def loop_stalled_mark(*, theme: Theme, similarity: float | None, now: dt.datetime) -> bool:
    """The loop repeats itself: set ``stalled_since`` once (compare-and-set), audited.

    Returns whether this call marked it (False when it was already stalled).
    """
    with transaction.atomic():
        _ensure()
        changed = LoopState.objects.filter(
            pk=LoopState.SINGLETON_ID, stalled_since__isnull=True
        ).update(stalled_since=now)
        if changed:
            audit_log(
                action="goals.loop_stalled",
                subject=theme,
                data={"similarity": similarity},
            )
    return bool(changed)


def loop_stalled_clear(*, theme: Theme) -> bool:
    """A shake-up ran: clear ``stalled_since`` (compare-and-set), audited when it changed."""
    with transaction.atomic():
        changed = LoopState.objects.filter(
            pk=LoopState.SINGLETON_ID, stalled_since__isnull=False
        ).update(stalled_since=None)
        if changed:
            audit_log(action="goals.loop_unstalled", subject=theme, data={})
    return bool(changed)


def loop_strategy_set(
    *, theme: Theme, explore_ratio: float, focus: str
) -> tuple[float | None, str]:
    """Put a strategy in force for ``theme`` under the row lock; returns the previous one.

    Call inside the caller's transaction, which writes its audit event
    (``strategy_apply`` in ``goals.services.governance``).
    """
    state = _locked()
    previous = state.strategy_for(theme)
    state.strategy_theme = theme
    state.explore_ratio = explore_ratio
    state.strategy_focus = focus[:2000]
    state.full_clean()
    state.save()
    return previous


#: Why the loop pauses while a theme is switched (shown in its status line meanwhile).
THEME_SWITCH_REASON = "switching theme"
#: States in which the loop is working and must be paused for a theme switch.
THEME_SWITCH_WORKING = frozenset({LoopState.State.RUNNING, LoopState.State.BACKING_OFF})


@contextmanager
def loop_paused_for_theme_switch() -> Iterator[bool]:
    """Pause a working loop for a theme switch and resume it after, even on failure.

    Registered with ``ideas.services.theme_switch_guard_register`` at start-up, so every
    switch (``newtheme``, the admin's Activate) goes through it. A paused or stopped loop
    is left as it was. Yields whether it paused the loop.
    """
    was_working = loop_state_get().state in THEME_SWITCH_WORKING
    if was_working:
        loop_pause(reason=THEME_SWITCH_REASON)
    try:
        yield was_working
    finally:
        if was_working:
            loop_resume()
