"""On SQLite a role's last prompt is stored padded to a fixed size, so that rewriting it
overwrites the row in place and writes only the pages whose bytes changed."""

from __future__ import annotations

import os
import random

import pytest
from django.db import connection

from goals.models import RolePrompt
from goals.selectors import role_prompt_ids
from goals.services.loop import ROLE_PROMPT_SLOT, loop_iteration_count, role_prompt_padding


def _sqlite_only() -> None:
    if connection.vendor != "sqlite":
        pytest.fail("runs on SQLite, the default database")


def test_a_prompt_and_its_padding_fill_whole_slots():
    _sqlite_only()
    assert len(role_prompt_padding(0)) == ROLE_PROMPT_SLOT
    assert len(role_prompt_padding(30_000)) == ROLE_PROMPT_SLOT - 30_000
    assert len(role_prompt_padding(ROLE_PROMPT_SLOT)) == 0
    assert len(role_prompt_padding(ROLE_PROMPT_SLOT + 1)) == ROLE_PROMPT_SLOT - 1
    assert set(role_prompt_padding(100)) == {0}


def _frames() -> int:
    """WAL frames written so far: the file's size, which only grows between the
    truncating checkpoint at the test's start and the next checkpoint (10,000 pages on)."""
    wal = f"{connection.settings_dict['NAME']}-wal"
    return (os.path.getsize(wal) - 32) // (24 + 4096) if os.path.exists(wal) else 0


@pytest.mark.django_db(transaction=True)
def test_rewriting_a_prompt_that_shares_most_of_the_last_writes_only_its_changed_pages():
    _sqlite_only()
    rng = random.Random(8)
    head = [rng.randrange(200_000) for _ in range(5_000)]

    def prompt() -> list[int]:  # ~90% shared with the last one, its length varying
        return head + [rng.randrange(200_000) for _ in range(rng.randrange(400, 700))]

    loop_iteration_count(role="critic", tokens=1, failed=False, prompt_ids=prompt())
    # An empty WAL: after a checkpoint SQLite writes the file again from its start, and
    # a size that does not grow would count nothing.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        assert cursor.fetchone()[0] == 0  # not busy: the WAL was emptied
    written = []
    for _ in range(5):
        ids = prompt()
        before = _frames()
        loop_iteration_count(role="critic", tokens=1, failed=False, prompt_ids=ids)
        written.append(_frames() - before)
        assert role_prompt_ids(role="critic") == ids
    # The loop's state row, the counters' pages and the prompt's last few pages: without
    # the padding SQLite rewrote the whole ~27 kB prompt (~16 pages) every time.
    assert min(written) > 0 and max(written) <= 8, written
    row = RolePrompt.objects.get(role="critic")
    assert (len(row.ids) + len(row.pad)) % ROLE_PROMPT_SLOT == 0
