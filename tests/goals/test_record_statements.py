"""``goals.services.record``'s written-out statements store and read exactly what the
ORM forms they replaced did: the iteration's insert, its result's update, and the lease
check before an answer is persisted."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from goals.models import Iteration, Task
from goals.services import task_claim_next
from goals.services.record import _lease_still_held, iteration_persist
from goals.work import Work
from tests.goals.factories import TaskFactory

pytestmark = pytest.mark.django_db

WHEN = dt.datetime(2026, 4, 5, 6, 7, 8, 901_234, tzinfo=dt.UTC)


def _iteration(theme, task, *, parsed) -> Iteration:
    return Iteration(
        theme=theme,
        task=task,
        task_kind=task.kind,
        number=7,
        worker="w",
        role="critic",
        mode="refine",
        prompt_tokens=1200,
        completion_tokens=80,
        cached_tokens=1024,
        prefix_shared_tokens=900,
        model_calls=2,
        calls=[{"n": 1, "ms": 12.5}],
        normalisations=["trailing_comma"],
        analysis="考える",
        final='{"a": 1}',
        tool_calls=[{"name": "score", "arguments": {"テ": 1}}],
        parsed=parsed,
        outcome=Iteration.Outcome.REPAIRED,
        error_class="",
        error_detail="",
        duration_ms=345,
        started_at=WHEN,
        finished_at=WHEN + dt.timedelta(seconds=1),
        similarity=0.8125,
        result={},
    )


def _stored(pk: int) -> dict:
    return Iteration.objects.filter(pk=pk).values().get()


@pytest.mark.parametrize("parsed", [None, {"ideas": [{"title": "アイデア"}]}])
def test_the_iterations_insert_and_result_update_store_what_save_and_update_did(
    theme, parsed, monkeypatch
):
    """Two twin iterations, one through ``iteration_persist``'s statements, the other
    through the ORM forms they replaced: their rows are the same but for the id."""
    from goals.services import record

    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="w")
    twin = _iteration(theme, task, parsed=parsed)
    twin.save()
    result = {"ideas_written": [3, 4], "note": "ノート", "reviews_queued": []}
    Iteration.objects.filter(pk=twin.pk).update(result=result)

    made: list[Iteration] = []

    def iteration_new(**kwargs):
        iteration = _iteration(theme, task, parsed=parsed)
        record.rows_insert(Iteration, [iteration])
        made.append(iteration)
        return iteration

    class Handler:
        def persist(self, **kwargs):
            return dict(result)

    monkeypatch.setattr(record, "iteration_new", iteration_new)
    monkeypatch.setitem(record.HANDLERS, "critic", Handler())
    monkeypatch.setattr(record, "stagnation_apply", lambda **kwargs: None)
    monkeypatch.setattr(record, "reviews_schedule", lambda **kwargs: [])
    work = Work(
        theme=theme, task=task, kind=task.kind, role="critic", mode="refine", worker="w", number=7
    )
    iteration_persist(
        work=work,
        call=record.CallOutcome(),
        verdict=record.StagnationVerdict(),
        started_at=WHEN,
        prefix=900,
    )
    [mine] = made
    hand, orm = _stored(mine.pk), _stored(twin.pk)
    assert {name for name in hand if hand[name] != orm[name]} == {"id"}
    assert hand["result"] == result and hand["parsed"] == parsed
    assert Iteration.objects.filter(parsed__isnull=True).count() == (2 if parsed is None else 0)
    assert not mine._state.adding
    assert Task.objects.get(pk=task.pk).status == Task.Status.DONE


def test_the_lease_check_sees_only_a_running_task_under_that_worker(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="w")
    assert _lease_still_held(task_id=task.pk, worker="w")
    assert not _lease_still_held(task_id=task.pk, worker="x")
    assert not _lease_still_held(task_id=task.pk + 1, worker="w")
    with transaction.atomic():
        Task.objects.filter(pk=task.pk).update(status=Task.Status.DONE)
        assert not _lease_still_held(task_id=task.pk, worker="w")
