"""What every process sets up at start for running for days: the SQLite connection's
pragmas (read back from a live connection) and the garbage collector."""

from __future__ import annotations

import gc

import pytest
from django.db import connection

from bizagent.collector import YOUNG_THRESHOLD, collector_tune


@pytest.mark.django_db
def test_a_sqlite_connection_checkpoints_rarely_and_caches_more():
    if connection.vendor != "sqlite":
        pytest.fail("this test runs on SQLite, the default database")
    with connection.cursor() as cursor:
        read = {}
        for pragma in (
            "journal_mode",
            "synchronous",
            "foreign_keys",
            "wal_autocheckpoint",
            "journal_size_limit",
            "cache_size",
        ):
            cursor.execute(f"PRAGMA {pragma}")
            read[pragma] = cursor.fetchone()[0]
    assert read == {
        "journal_mode": "wal",
        "synchronous": 1,  # NORMAL
        "foreign_keys": 1,
        "wal_autocheckpoint": 10_000,
        "journal_size_limit": 64 * 1024 * 1024,
        "cache_size": -32_000,  # KiB
    }


def test_the_collector_is_tuned_once_django_is_set_up():
    # pytest-django set Django up: BizagentConfig.ready ran in this process.
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 10_000  # Django and the apps, frozen at start


def test_tuning_again_freezes_what_was_added_and_keeps_the_other_thresholds():
    before = gc.get_freeze_count()
    _, middle, old = gc.get_threshold()
    kept = [object() for _ in range(3)] + [[n] for n in range(50)]
    collector_tune()
    assert gc.get_freeze_count() >= before + 50
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, old)
    assert kept
