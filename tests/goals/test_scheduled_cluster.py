"""The scheduled loop under a real ``qcluster``: K iterations at once, each task once.

Bounded runs (about 30 and 60 s): two loop slots and three django-q2 workers (then
eight and nine) on the ORM broker, a private SQLite file, the example theme with its
shipped duty cycle 0.75 and the fake gpt-oss server answering after one second per
call. Before loop slots, one cluster-wide lock let one iteration run at a time; before
rests ended when they ended, each slot waited for the next every-minute tick after its
first rest, so a 20-second window held one iteration per slot.
"""

from __future__ import annotations

from tests.goals.scheduled_run import loop_run


def test_two_slots_under_a_real_cluster(tmp_path):
    result = loop_run(var_dir=tmp_path / "var", concurrency=2, seconds=20, duty=0.75)
    assert result.locked_errors == 0, result.output[-3000:]
    assert result.done_twice == []
    assert result.started_after_stop == 0
    assert result.most_at_once == 2  # both slots worked at once, never more
    # Work is at most the duty cycle of the two slots' time (one iteration of slack).
    assert result.busy_share <= 0.75 + 0.1
    # Rests ended when they ended: far more than one iteration per slot in 20 s.
    assert result.iterations >= 8, result
    assert result.failed == 0, result.output[-3000:]


def test_eight_slots_and_the_stop_gets_through(tmp_path):
    """K = 8: nine workers on one SQLite file. ``runloop stop`` used to fail with
    "database is locked" behind them (``loop_run`` raises when a command fails); a tick
    per iteration gave the write lock about 16 transactions per iteration, the ticks
    that keep their slot about 6."""
    result = loop_run(var_dir=tmp_path / "var", concurrency=8, seconds=20, duty=0.75)
    assert result.locked_errors == 0, result.output[-3000:]
    assert result.done_twice == []
    assert result.started_after_stop == 0
    assert 2 < result.most_at_once <= 8, result  # slots fill up, never past K
    assert result.failed == 0, result.output[-3000:]
