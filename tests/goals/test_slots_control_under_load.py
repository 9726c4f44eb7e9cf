"""``runloop stop|pause|resume`` get through while the loop's writers keep SQLite's one
write lock busy (``goals.services.loop._control_write``).

At K = 8 under a real qcluster, ``runloop stop`` failed with "database is locked":
SQLite's busy handler is not a queue, and a waiter sleeping up to 100 ms between tries
loses the lock to every writer that asks in between, until its busy timeout. Here the
busy timeout is cut to 0.2 s and one writer holds the lock well past it while others
churn short transactions: before, the stop raised "database is locked"; now it asks
for the lock every few milliseconds for a bounded time and gets through.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from decisions.models import AuditEvent
from goals.models import LoopState
from goals.services import loop as loop_service
from goals.services import loop_start, loop_state_get

# SQLite's write lock is the subject (the suite runs on SQLite; PostgreSQL's row locks
# queue fairly and are covered by the ``-m postgres`` loop tests).
pytestmark = pytest.mark.django_db(transaction=True)

#: Held by one writer, well past the command's busy timeout of 0.2 s.
HOLD_SECONDS = 1.5


def _busy_timeout_set(ms: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA busy_timeout = {ms}")


def _busy_timeout() -> int:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        return cursor.fetchone()[0]


def _writer(path: str, *, hold: float, until: threading.Event, held: threading.Event) -> None:
    """Take the write lock, signal, hold it ``hold`` seconds, work 5 ms without it (as
    a worker does between its transactions); again until ``until``."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        while True:
            db.execute("BEGIN IMMEDIATE")
            held.set()
            until.wait(hold)
            db.execute("COMMIT")
            if until.wait(0.005):
                return
    finally:
        db.close()


@contextmanager
def writers_hammering(*, long_hold: float, churners: int = 4) -> Iterator[threading.Event]:
    """One writer holding the lock ``long_hold`` seconds at a time and ``churners``
    writers in 20 ms transactions back to back, like the loop's workers."""
    path = connection.settings_dict["NAME"]
    done = threading.Event()
    first = threading.Event()
    threads = [
        threading.Thread(
            target=_writer, args=(path,), kwargs={"hold": long_hold, "until": done, "held": first}
        )
    ]
    threads += [
        threading.Thread(
            target=_writer,
            args=(path,),
            kwargs={"hold": 0.02, "until": done, "held": threading.Event()},
        )
        for _ in range(churners)
    ]
    threads[0].start()
    assert first.wait(10)  # the long holder has the lock before anyone else starts
    for thread in threads[1:]:
        thread.start()
    try:
        yield done
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=30)


@pytest.fixture
def running(theme):
    loop_start()
    connection.close()  # a fresh connection, with the busy timeout set below
    _busy_timeout_set(200)
    return theme


@pytest.mark.parametrize(
    ("action", "state", "audited"),
    [
        ("stop", LoopState.State.STOPPED, "goals.loop_stopped"),
        ("pause", LoopState.State.PAUSED, "goals.loop_paused"),
    ],
)
def test_a_control_command_gets_through_a_busy_write_lock(running, action, state, audited, capsys):
    with writers_hammering(long_hold=HOLD_SECONDS):
        call_command("runloop", action)
    assert loop_state_get().state == state
    assert AuditEvent.objects.filter(action=audited).count() == 1
    assert "loop " in capsys.readouterr().out
    # The connection's own busy timeout is back for every other statement.
    assert _busy_timeout() == 200


def test_resume_gets_through_a_busy_write_lock(running):
    call_command("runloop", "pause")
    with writers_hammering(long_hold=HOLD_SECONDS):
        call_command("runloop", "resume")
    assert loop_state_get().state == LoopState.State.RUNNING


def test_a_lock_held_past_the_bounded_wait_is_reported_and_nothing_changes(running, monkeypatch):
    monkeypatch.setattr(loop_service, "CONTROL_WAIT_SECONDS", 0.3)
    with writers_hammering(long_hold=5.0, churners=0) as done:
        with pytest.raises(CommandError, match="database stayed locked by other writers"):
            call_command("runloop", "stop")
        done.set()
    assert loop_state_get().state == LoopState.State.RUNNING
    assert not AuditEvent.objects.filter(action="goals.loop_stopped").exists()
    assert _busy_timeout() == 200
