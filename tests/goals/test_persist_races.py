"""Several iterations persisting at once over the same ideas, on a real database.

Every persist takes its locks in one order: first the day's token row (the Iteration
row's insert adds to it, so the persists of one theme queue there), then the ideas it
changes by key, the review tasks it deduplicates, and the loop's one row last. So
concurrent iterations wait on each other but never deadlock, and nothing they count or
change is lost or done twice. Runs on SQLite in the main pass and again on PostgreSQL
(``-m postgres``), where rows are really locked: with the token row's update taken out
and the critic locking the loop's row before its ideas, this test fails there with
"deadlock detected".
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest
from django.db.models import Sum

from goals.models import Iteration, LoopState, Task, TaskKind, TokenDay
from goals.roles import HANDLERS
from goals.services import iteration_run, loop_start
from goals.services.queue import task_create
from ideas.models import Idea, IdeaChange, PortfolioCounters
from ideas.selectors import portfolio_counts_scan
from tests.concurrency import run_together
from tests.goals.factories import IdeaFactory, ThemeFactory, theme_config
from tests.goals.studio import StudioClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WORKERS = 4
ROUNDS = 5


def _slow(persist):
    def slowed(**kwargs):
        result = persist(**kwargs)
        time.sleep(0.02)
        return result

    return slowed


def test_concurrent_iterations_over_shared_ideas_deadlock_lose_and_double_nothing(
    monkeypatch,
):
    client = StudioClient()
    monkeypatch.setattr("goals.services.iteration.llm_client", lambda: client)
    # Reviews every few iterations: concurrent persists also meet on the deduplicated
    # snapshot and meta-review tasks they queue.
    theme = ThemeFactory(config=theme_config(snapshot_every=3, meta_review_every=4))
    ideas = IdeaFactory.create_batch(6, theme=theme)
    # Critiques and refinements of overlapping ideas, so workers hold tasks that change
    # the same rows at once.
    for n in range(12):
        task_create(
            theme=theme,
            kind=TaskKind.CRITIQUE if n % 2 else TaskKind.REFINE,
            ideas=ideas[n % 3 : n % 3 + 4],
            brief=f"Round {n}.",
            priority=90,
        )
    # Each persist holds the rows it changed a little longer before it goes on to the
    # review tasks and the loop's row, so the workers' transactions overlap.
    for role, handler in HANDLERS.items():
        monkeypatch.setitem(
            HANDLERS, role, dataclasses.replace(handler, persist=_slow(handler.persist))
        )
    loop_start()

    def worker(index: int) -> list[str]:
        return [iteration_run(worker=f"w{index}", scheduled=False).status for _ in range(ROUNDS)]

    results, errors = run_together(worker, WORKERS)
    assert not errors, errors
    statuses = list(itertools.chain.from_iterable(results))
    iterations = Iteration.objects.filter(theme=theme)
    assert statuses.count("ran") == iterations.count() == WORKERS * ROUNDS
    assert not iterations.filter(outcome=Iteration.Outcome.FAILED).exists(), list(
        iterations.filter(outcome=Iteration.Outcome.FAILED).values("error_class", "error_detail")
    )

    # Each task was done by one iteration at most, and every done task by exactly one.
    for task in Task.objects.filter(theme=theme):
        done = iterations.filter(
            task=task, outcome__in=(Iteration.Outcome.OK, Iteration.Outcome.REPAIRED)
        ).count()
        assert done == (1 if task.status == Task.Status.DONE else 0), task
    # One open review task per kind at most, however many persists queued one at once.
    for kind in (TaskKind.SNAPSHOT, TaskKind.META_REVIEW):
        open_tasks = Task.objects.filter(
            theme=theme, kind=kind, status__in=(Task.Status.READY, Task.Status.RUNNING)
        )
        assert open_tasks.count() <= 1

    # The loop's counters and the day's tokens add up to the iterations recorded.
    tokens = iterations.aggregate(total=Sum("prompt_tokens") + Sum("completion_tokens"))["total"]
    state = LoopState.objects.get(pk=LoopState.SINGLETON_ID)
    assert state.iterations_total == WORKERS * ROUNDS
    assert state.tokens_total == tokens
    assert TokenDay.objects.filter(theme=theme).aggregate(t=Sum("tokens"))["t"] == tokens

    # No lost update: each change row's ``old`` is what the change before it left.
    for idea in Idea.objects.filter(theme=theme):
        changes = IdeaChange.objects.filter(idea=idea).exclude(field="created")
        for field in set(changes.values_list("field", flat=True)):
            chain = list(changes.filter(field=field).order_by("pk").values("old", "new"))
            assert all(a["new"] == b["old"] for a, b in itertools.pairwise(chain)), (
                idea.pk,
                field,
                chain,
            )
    counters = PortfolioCounters.objects.filter(theme=theme).values().get()
    scan = portfolio_counts_scan(theme_id=theme.pk)
    assert {key: counters[key] for key in scan} == pytest.approx(scan)
