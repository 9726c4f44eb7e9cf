"""The exact number of queries one iteration of each role makes.

An iteration's database work is a fixed sequence of reads and writes; a change that adds
a query (a repeated read of a row, a query per idea, tag or score) changes these counts
and fails here. The counts do not depend on the portfolio's size (see
``test_prompt_size``). Set-up as there: 500 ideas, a meta review and a generate task
queued, the scripted studio answering; the iterations then run planner (meta review),
ideator (generate), critic (critique of the new ideas), critic, editor (refine).
"""

from __future__ import annotations

import pytest
from django.contrib.contenttypes.models import ContentType

from goals.models import Iteration
from goals.services import iteration_run, task_create
from ideas.models import Snapshot
from tests.goals.studio import StudioClient
from tests.goals.test_prompt_size import _bulk_ideas

pytestmark = pytest.mark.django_db

#: (role, task kind, queries) of each iteration in order. In a test the transactions
#: are savepoints (SAVEPOINT and RELEASE are counted as queries).
EXPECTED = [
    # Before the batched writes (tasks, ideas, scores, audit events): 111, 107, 60, 89, 49.
    # The planner's is the first call of its context epoch: it renders the epoch's task
    # ideas and keeps them in the cache (a read and an insert); later plans of the
    # epoch read them back instead of the ideas' tags, links and related ideas.
    # Then 62, 53, 42, 49, 44; 6 fewer each since the theme's row brings today's tokens,
    # the last iteration number and the open shake-up (one query for four), the budget's
    # grants are read only past the budget, the focus ideas come without a tags query
    # the context never read, and a backoff ends under the counters' lock.
    # Then 56, 47, 36, 43, 38: the related ideas' choice reuses the focus ideas' tags and
    # links the context read (two queries less) and the overlap window's first ideas as the
    # top of the portfolio (one less, when the window was read).
    # Then 54, 45, 34, 40, 35: a claimed task is the row read plus what the claim wrote
    # (compare-and-set on its attempts), not read a second time.
    # Then 60, 44, 33, 38, 33: the overlap window and its ideas' tags are read once per
    # epoch and kept in the cache (the epoch's first call: a read, the window, its tags
    # and the cache's insert), and the later calls count the overlap on it.
    # Then 66 for the planner: the epoch's first plan keeps its portfolio figures in the
    # cache (a read and an insert); the epoch's later plans read them back (one query).
    # Then 70, 45, 34, 39, 34: each iteration adds its tokens to the day's counter where
    # it is inserted (one UPDATE; the day's first creates the row: three more), and the
    # budget reads that one row instead of summing every iteration of the day.
    # Then 70, 45, 35, 41, 34: a review's scores are one plain UPDATE per idea (Django's
    # bulk update costs several times more than the statements it saves, for a few ideas).
    # Then 71, 46, 36, 42, 35: the role's last prompt ids are a row of their own, read
    # for the role that runs (one query) instead of a 56 kB JSON column of the loop's
    # state that every read parsed and every counter update rewrote; the counters are
    # one UPDATE with the ids' upsert, no row lock unless a backoff is to be cleared.
    # The planner's is the first iteration: it also reads the theme and its profile as
    # model rows (one query), which later iterations reuse while no column changed.
    # Then 71, 45, 35, 41, 34: the focus ideas' tags and links are one statement.
    # Then 70, 44, 34, 40, 33: a task is claimed and read back by one UPDATE … RETURNING
    # (the first ready task a subquery of it) instead of a read and a compare-and-set.
    # Then 32 for the editor: the edited idea is brought up to date from the row it
    # locked and wrote, not read again.
    # Then 69, 43, 33, 39, 31: the related ideas shown are read with their tags in one
    # written-out statement (the ORM's prefetch was a second one).
    # Then 49 for the ideator: a deepen's focus (the top of the portfolio) is rendered
    # once per epoch like the planner's; the epoch's first keeps it in the cache (a read,
    # and the cache's add: six statements in a test), later deepens read it back instead
    # of the ideas' tags, links and related ideas.
    # Then 31 and 37 for the critics: the scores' write opens no savepoint of its own
    # inside the iteration's transaction (no savepoint, no release); 29 for the editor,
    # whose edit opens none either.
    # Then 47, 29, 35, 27: a process remembers the epoch's portfolio block and overlap
    # window once read or added (``ideas.selectors.epoch_memo``), so a later call of the
    # epoch reads neither from the cache.
    # Then 68, 46, 28, 34, 26: whether any lease lapsed comes with the theme's row, so
    # the lapsed leases are read only when there are some (none here).
    # Then 66, 44, 26, 32, 24: the loop's counters move in the answer's transaction (in
    # production one COMMIT fewer; here the counters' savepoint and release).
    # Then 65 for the planner: the epoch's overlap window is one statement, its ideas
    # with their tags, not the ids and then their tags.
    ("planner", "meta_review", 65),
    ("ideator", "generate", 44),
    ("critic", "critique", 26),
    ("critic", "critique", 32),
    ("editor", "refine", 24),
]


@pytest.fixture
def studio(theme):
    _bulk_ideas(theme, 500)
    task_create(theme=theme, kind="generate", priority=90)
    task_create(theme=theme, kind="meta_review", priority=95)
    # The audit log's content types are cached per process: start cold every time, so
    # the count does not depend on which test ran before.
    ContentType.objects.clear_cache()
    return StudioClient()


@pytest.mark.parametrize("index", range(len(EXPECTED)), ids=[f"{r}-{k}" for r, k, _ in EXPECTED])
def test_one_iteration_makes_a_fixed_number_of_queries(studio, django_assert_num_queries, index):
    for _ in range(index):
        assert iteration_run(worker="w", scheduled=False, client=studio).ran
    role, kind, queries = EXPECTED[index]
    with django_assert_num_queries(queries):
        report = iteration_run(worker="w", scheduled=False, client=studio)
    assert report.ran
    assert (report.iteration.role, report.iteration.task_kind) == (role, kind)


#: A snapshot task's iteration: the loop's reads, the snapshot (its portfolio figures and
#: insert) and the iteration inserted with its result (no UPDATE of the row afterwards);
#: the snapshot's validation does not read the theme again (it was 26); 24 since the
#: lapsed leases are read only when the theme's row says some lapsed; 22 since the loop's
#: counters open no savepoint inside a caller's transaction (in a test, every one is).
SNAPSHOT_QUERIES = 22


def test_a_snapshot_iteration_makes_a_fixed_number_of_queries(theme, django_assert_num_queries):
    _bulk_ideas(theme, 50)
    task_create(theme=theme, kind="snapshot", priority=99, metadata={"iteration_count": 10})
    ContentType.objects.clear_cache()
    with django_assert_num_queries(SNAPSHOT_QUERIES):
        report = iteration_run(worker="w", scheduled=False, client=StudioClient())
    assert (report.iteration.role, report.iteration.task_kind) == ("system", "snapshot")
    snapshot = Snapshot.objects.get(theme=theme)
    assert Iteration.objects.get(pk=report.iteration.pk).result == {"snapshot": snapshot.pk}
