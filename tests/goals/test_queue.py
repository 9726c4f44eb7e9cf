"""The task queue: claiming with a lease, expiry, completion, failure, release, requeue."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from decisions.models import AuditEvent
from goals.models import Task
from goals.services import (
    LeaseLost,
    TaskSpec,
    TaskTransitionError,
    task_claim_next,
    task_complete,
    task_create,
    task_fail,
    task_leases_expire,
    task_release,
    task_requeue,
    tasks_create,
)
from tests.concurrency import run_together
from tests.goals.factories import IdeaFactory, TaskFactory, ThemeFactory

pytestmark = pytest.mark.django_db


def test_it_claims_the_highest_priority_ready_task(theme):
    TaskFactory(theme=theme, priority=10)
    high = TaskFactory(theme=theme, priority=90)
    task = task_claim_next(theme=theme, worker="alice-worker")
    assert task.pk == high.pk
    assert task.status == Task.Status.RUNNING
    assert task.lease_owner == "alice-worker"
    assert task.lease_expires_at > timezone.now()
    assert task.attempts == 1


def test_the_claimed_task_is_the_row_as_written(theme):
    TaskFactory(theme=theme, attempts=1)
    now = timezone.now()
    task = task_claim_next(theme=theme, worker="w", now=now)
    stored = Task.objects.get(pk=task.pk)
    fields = ("status", "lease_owner", "lease_expires_at", "attempts", "last_run_at")
    assert {f: getattr(task, f) for f in fields} == {f: getattr(stored, f) for f in fields}
    assert (task.attempts, task.last_run_at) == (2, now)


def test_a_task_claimed_and_given_back_meanwhile_is_not_taken_with_stale_attempts(
    theme, monkeypatch
):
    """Between the read and the claim another worker claimed the task and gave it back
    (its attempts went up): the compare-and-set refuses the stale row, the next read
    takes it with its true count (PostgreSQL claims under the row lock and reads after).
    Only the two-statement claim (a database without ``UPDATE … RETURNING``) reads first."""
    import goals.services.queue as queue

    monkeypatch.setattr(queue, "can_return_rows_from_update", lambda alias: False)
    TaskFactory(theme=theme)
    real_take = queue._lease_take
    meddled = []

    def take(rows, **kwargs):
        if not meddled:
            meddled.append(True)
            Task.objects.filter(theme=theme).update(attempts=5)
        return real_take(rows, **kwargs)

    monkeypatch.setattr(queue, "_lease_take", take)
    task = task_claim_next(theme=theme, worker="w")
    assert task.attempts == 6 == Task.objects.get(pk=task.pk).attempts


def test_the_one_statement_claim_returns_the_row_as_it_is_when_claimed(theme, monkeypatch):
    """Another worker claimed the task and gave it back just before our claim (its
    attempts went up): the claim reads nothing beforehand, so it counts on the true row."""
    import goals.services.queue as queue

    TaskFactory(theme=theme)
    real_run = queue.rows_returned

    def claim(model, **kwargs):
        Task.objects.filter(theme=theme).update(attempts=5)
        return real_run(model, **kwargs)

    monkeypatch.setattr(queue, "rows_returned", claim)
    task = task_claim_next(theme=theme, worker="w")
    assert task.attempts == 6 == Task.objects.get(pk=task.pk).attempts


def test_a_claim_is_one_statement(theme):
    """The first ready task is chosen, taken and read back by one ``UPDATE … RETURNING``
    (it was a read and a compare-and-set). On PostgreSQL the statement runs in a
    transaction of its own (its subquery's row lock): a savepoint in a test."""
    TaskFactory(theme=theme, priority=10)
    best = TaskFactory(theme=theme, priority=90)

    def statements_of_a_claim():
        with CaptureQueriesContext(connection) as captured:
            task = task_claim_next(theme=theme, worker="w")
        sqls = [q["sql"] for q in captured.captured_queries]
        return task, [sql for sql in sqls if "SAVEPOINT" not in sql.upper()]

    task, sqls = statements_of_a_claim()
    assert len(sqls) == 1 and sqls[0].startswith("UPDATE") and "RETURNING" in sqls[0]
    assert task.pk == best.pk
    assert (task.status, task.lease_owner, task.attempts) == (Task.Status.RUNNING, "w", 1)
    task, sqls = statements_of_a_claim()
    assert task.priority == 10 and len(sqls) == 1
    task, sqls = statements_of_a_claim()
    assert task is None and len(sqls) == 1


@pytest.mark.parametrize("lease_seconds", [600, 45])
def test_the_claim_compiled_once_is_the_statement_the_orm_compiles(theme, settings, lease_seconds):
    """The claim's statement is compiled once per process with stand-ins for the call's
    values; filled in, it is exactly what Django compiles for those values (so the kept
    statement can never claim differently), for the lease length in force."""
    import goals.services.queue as queue

    settings.GOALS_LEASE_SECONDS = lease_seconds
    now = timezone.now()
    statement = queue._claim_statement(
        connection.alias, connection.vendor, queue.conf().lease_seconds
    )
    assert statement is not None
    sql, slots = statement
    params = queue._claim_params(slots, theme_id=theme.pk, worker="w-9", now=now)
    assert (sql, tuple(params)) == queue.lease_claim_returning_sql(
        queue._first_ready_claim(theme.pk, worker="w-9", now=now),
        owner="w-9",
        now=now,
        duration=dt.timedelta(seconds=lease_seconds),
        **queue._claim_changes(now),
    )
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="w-9", now=now)
    assert task.lease_expires_at == now + dt.timedelta(seconds=lease_seconds)


def test_it_returns_none_when_nothing_is_ready(theme):
    TaskFactory(theme=theme, status=Task.Status.DONE)
    TaskFactory(theme=theme, run_after=timezone.now() + dt.timedelta(minutes=5))
    assert task_claim_next(theme=theme, worker="w") is None


def test_it_ignores_other_themes_tasks(theme):
    other = ThemeFactory(status="draft", activated_at=None)
    TaskFactory(theme=other)
    assert task_claim_next(theme=theme, worker="w") is None


def test_it_never_hands_one_task_to_two_workers(theme):
    TaskFactory(theme=theme)
    assert task_claim_next(theme=theme, worker="a") is not None
    assert task_claim_next(theme=theme, worker="b") is None


def test_it_dedupes_open_tasks_by_key(theme):
    first, created = task_create(theme=theme, kind="snapshot", dedupe_key="snapshot")
    again, created_again = task_create(theme=theme, kind="snapshot", dedupe_key="snapshot")
    assert created and not created_again
    assert again.pk == first.pk
    Task.objects.filter(pk=first.pk).update(status=Task.Status.DONE)
    _, created_later = task_create(theme=theme, kind="snapshot", dedupe_key="snapshot")
    assert created_later


def test_it_links_the_tasks_ideas(theme):
    idea = IdeaFactory(theme=theme)
    task, _ = task_create(theme=theme, kind="critique", ideas=[idea])
    assert list(task.ideas.all()) == [idea]


def test_it_completes_under_its_lease(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="a")
    with transaction.atomic():
        task_complete(task=task, worker="a")
    task.refresh_from_db()
    assert task.status == Task.Status.DONE
    assert task.lease_owner == ""
    assert task.finished_at is not None


def test_a_worker_that_lost_its_lease_cannot_complete(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="a")
    Task.objects.filter(pk=task.pk).update(lease_owner="b")
    with pytest.raises(LeaseLost), transaction.atomic():
        task_complete(task=task, worker="a")
    task.refresh_from_db()
    assert task.status == Task.Status.RUNNING


def test_an_expired_lease_returns_the_task_to_the_queue(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="dead-worker")
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601), tick=False):
        assert task_leases_expire() == [task.pk]
        task.refresh_from_db()
        assert task.status == Task.Status.READY
        assert "dead-worker" in task.last_error
        assert (task.attempts, task.lease_losses) == (0, 1)  # a death is not an attempt
        assert AuditEvent.objects.filter(action="goals.task_lease_expired").count() == 1
        again = task_claim_next(theme=theme, worker="live-worker")
    assert again.pk == task.pk
    assert again.attempts == 1


def _die_under(task_id: int, theme, worker: str) -> None:
    """A worker claims the task and is killed: its lease lapses, someone expires it."""
    task = task_claim_next(theme=theme, worker=worker)
    assert task is not None and task.pk == task_id
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601), tick=False):
        assert task_leases_expire() == [task_id]


def test_three_worker_deaths_do_not_block_a_good_task(theme):
    task = TaskFactory(theme=theme, max_attempts=3)
    for n in range(3):
        _die_under(task.pk, theme, f"worker-{n}")
    task.refresh_from_db()
    assert (task.status, task.attempts, task.lease_losses) == (Task.Status.READY, 0, 3)
    claimed = task_claim_next(theme=theme, worker="survivor")
    with transaction.atomic():
        task_complete(task=claimed, worker="survivor")
    task.refresh_from_db()
    assert task.status == Task.Status.DONE


def test_a_genuine_failure_still_counts_after_worker_deaths(theme):
    task = TaskFactory(theme=theme, max_attempts=2)
    _die_under(task.pk, theme, "dead")
    for expected in ("ready", "blocked"):
        claimed = task_claim_next(theme=theme, worker="live")
        with transaction.atomic():
            assert task_fail(task=claimed, worker="live", error_class="bad", detail="x") == expected
    task.refresh_from_db()
    assert (task.status, task.attempts, task.lease_losses) == (Task.Status.BLOCKED, 2, 1)


def test_a_live_lease_is_not_expired(theme):
    TaskFactory(theme=theme)
    task_claim_next(theme=theme, worker="a")
    assert task_leases_expire() == []


def test_a_task_that_keeps_killing_workers_is_blocked(theme, settings, caplog):
    settings.GOALS_MAX_LEASE_LOSSES = 4
    task = TaskFactory(theme=theme, max_attempts=1)
    for n in range(3):
        _die_under(task.pk, theme, f"w{n}")
    task.refresh_from_db()
    assert task.status == Task.Status.READY
    with caplog.at_level("WARNING", logger="goals.services.queue"):
        _die_under(task.pk, theme, "w3")
    task.refresh_from_db()
    assert task.status == Task.Status.BLOCKED
    assert task.last_error.startswith("its worker died 4 times")
    event = AuditEvent.objects.get(action="goals.task_blocked")
    assert event.data["lease_losses"] == 4
    assert f"task {task.pk} blocked: its worker died 4 times" in caplog.text
    assert "retry or drop it in the admin" in caplog.text


def test_a_failed_task_is_retried_then_blocked(theme):
    TaskFactory(theme=theme, max_attempts=2)
    task = task_claim_next(theme=theme, worker="a")
    with transaction.atomic():
        assert (
            task_fail(task=task, worker="a", error_class="schema_violation", detail="x") == "ready"
        )
    task = task_claim_next(theme=theme, worker="a")
    with transaction.atomic():
        assert (
            task_fail(task=task, worker="a", error_class="schema_violation", detail="y")
            == "blocked"
        )
    task.refresh_from_db()
    assert task.status == Task.Status.BLOCKED
    assert task.last_error == "schema_violation: y"
    assert AuditEvent.objects.filter(action="goals.task_blocked").count() == 1


def test_a_blocked_task_is_announced_in_the_log(theme, caplog, django_capture_on_commit_callbacks):
    TaskFactory(theme=theme, max_attempts=1)
    task = task_claim_next(theme=theme, worker="a")
    with (
        caplog.at_level("WARNING", logger="goals.services.queue"),
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
    ):
        task_fail(task=task, worker="a", error_class="schema_violation", detail="no ideas")
    assert (
        f"task {task.pk} blocked after 1 attempts: schema_violation: no ideas "
        "— retry or drop it in the admin"
    ) in caplog.text


def test_a_permanent_failure_fails_the_task(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="a")
    with transaction.atomic():
        task_fail(task=task, worker="a", error_class="no_ideas", detail="gone", permanent=True)
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED


def test_release_gives_the_attempt_back(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="a")
    assert task_release(task=task, worker="a", reason="server down")
    task.refresh_from_db()
    assert (task.status, task.attempts) == (Task.Status.READY, 0)
    assert not task_release(task=task, worker="a", reason="again")


def test_requeue_puts_a_blocked_task_back(theme, alice):
    task = TaskFactory(theme=theme, status=Task.Status.BLOCKED, attempts=3)
    task_requeue(task=task, actor=alice)
    assert (task.status, task.attempts) == (Task.Status.READY, 0)
    event = AuditEvent.objects.get(action="goals.task_requeued")
    assert event.actor == alice


def test_requeue_refuses_a_task_that_is_not_blocked(theme):
    task = TaskFactory(theme=theme, status=Task.Status.DONE)
    with pytest.raises(TaskTransitionError):
        task_requeue(task=task)
    assert not AuditEvent.objects.filter(action="goals.task_requeued").exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_get_different_tasks():
    theme = ThemeFactory()
    for _ in range(6):
        TaskFactory(theme=theme)
    claimed: dict[str, list[int]] = {"a": [], "b": []}

    def worker(index: int) -> None:
        name = "ab"[index]
        for _ in range(3):
            task = task_claim_next(theme=theme, worker=name)
            if task is not None:
                claimed[name].append(task.pk)

    _, errors = run_together(worker, 2)
    assert not errors, errors
    everything = claimed["a"] + claimed["b"]
    assert len(everything) == len(set(everything)) == 6
    assert Task.objects.filter(status=Task.Status.RUNNING).count() == 6


def test_a_batch_queues_its_tasks_at_the_cost_of_one(theme):
    ideas = IdeaFactory.create_batch(3, theme=theme)
    with CaptureQueriesContext(connection) as one:
        tasks_create(
            theme=theme, specs=[TaskSpec(kind="refine", ideas=(ideas[0],), dedupe_key="a")]
        )
    specs = [TaskSpec(kind="edit", ideas=(idea,), dedupe_key=f"e{idea.pk}") for idea in ideas]
    with CaptureQueriesContext(connection) as three:
        results = tasks_create(theme=theme, specs=specs)
    assert len(one) == len(three)
    assert all(created for _, created in results)
    assert [list(t.ideas.values_list("pk", flat=True)) for t, _ in results] == [
        [idea.pk] for idea in ideas
    ]


def test_a_batch_returns_the_open_task_for_a_known_or_repeated_key(theme):
    open_task, _ = task_create(theme=theme, kind="generate", dedupe_key="g")
    results = tasks_create(
        theme=theme,
        specs=[
            TaskSpec(kind="generate", dedupe_key="g"),
            TaskSpec(kind="compare", dedupe_key="c"),
            TaskSpec(kind="compare", dedupe_key="c"),
            TaskSpec(kind="generate"),
        ],
    )
    assert results[0] == (open_task, False)
    assert results[1][1] and not results[2][1]
    assert results[1][0].pk == results[2][0].pk
    assert results[3][1]
    assert Task.objects.filter(theme=theme).count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_keys_queue_each_key_once():
    theme = ThemeFactory()
    specs = [TaskSpec(kind="edit", dedupe_key=f"k{n}") for n in range(4)]
    results, errors = run_together(lambda i: tasks_create(theme=theme, specs=specs), 3)
    assert not errors, errors
    assert Task.objects.filter(theme=theme).count() == 4
    assert sum(created for batch in results for _, created in batch) == 4
    for batch in results:  # every caller learns the one open task of each key
        assert sorted(t.dedupe_key for t, _ in batch) == [f"k{n}" for n in range(4)]


def _stored_task(pk: int) -> dict:
    return Task.objects.filter(pk=pk).values().get()


def test_completing_writes_what_the_orms_lease_release_wrote(theme):
    """task_complete's written-out compare-and-set against the ORM form it replaced, on
    twin tasks: every column ends the same but the ids and creation times."""
    from bizagent.leases import lease_release

    TaskFactory(theme=theme, priority=90, metadata={"ノート": [1]})
    TaskFactory(theme=theme, priority=10, metadata={"ノート": [1]})
    by_hand = task_claim_next(theme=theme, worker="a")
    by_orm = task_claim_next(theme=theme, worker="a")
    Task.objects.filter(pk__in=[by_hand.pk, by_orm.pk]).update(last_error="x: earlier")
    now = dt.datetime(2026, 5, 6, 7, 8, 9, 123_456, tzinfo=dt.UTC)
    with transaction.atomic():
        task_complete(task=by_hand, worker="a", now=now)
        assert lease_release(
            Task.objects.filter(pk=by_orm.pk, status=Task.Status.RUNNING),
            owner="a",
            status=Task.Status.DONE,
            finished_at=now,
            last_error="",
        )
    hand, orm = _stored_task(by_hand.pk), _stored_task(by_orm.pk)
    differ = {name for name in hand if hand[name] != orm[name]}
    assert differ <= {"id", "priority", "created_at", "lease_expires_at", "last_run_at"}
    assert "lease_expires_at" not in differ or hand["lease_expires_at"] is None
    assert hand["status"] == Task.Status.DONE and hand["finished_at"] == now
    assert hand["lease_owner"] == "" and hand["lease_expires_at"] is None
    assert hand["last_error"] == ""


def test_completing_under_a_lost_lease_or_another_status_changes_nothing(theme):
    TaskFactory(theme=theme)
    task = task_claim_next(theme=theme, worker="a")
    before = _stored_task(task.pk)
    with pytest.raises(LeaseLost), transaction.atomic():
        task_complete(task=task, worker="b")
    Task.objects.filter(pk=task.pk).update(status=Task.Status.READY)
    with pytest.raises(LeaseLost), transaction.atomic():
        task_complete(task=task, worker="a")
    assert _stored_task(task.pk) == {**before, "status": Task.Status.READY}
