"""``iteration_persist(then=...)``: the loop's book-keeping of a persisted answer runs
last in the answer's own transaction (one COMMIT per iteration fewer), commits or rolls
back with it, and every other path still counts its iteration exactly once."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.utils import timezone

from goals.models import Iteration, LoopState, RolePrompt, Task
from goals.services import iteration as iteration_module
from goals.services import iteration_run, task_create
from goals.services.calls import CallOutcome
from goals.services.loop import loop_state_get
from goals.services.record import StagnationVerdict, iteration_persist
from goals.services.work import Work, work_pick
from ideas.models import Idea
from tests.goals.studio import ScriptedClient, Studio
from tests.goals.test_iteration_failures import studio_answered

pytestmark = pytest.mark.django_db


@pytest.fixture
def generate_task(theme):
    task, _ = task_create(theme=theme, kind="generate", priority=80)
    return task


def _answered(theme) -> tuple[Work, CallOutcome]:
    """A generate task claimed by worker ``w`` and the model's good answer to it."""
    work = work_pick(theme=theme, worker="w", state=loop_state_get(), now=timezone.now())
    return work, studio_answered(work=work, studio=Studio())


def _persisted(work: Work, call: CallOutcome, then: Callable[[Iteration], None]) -> Iteration:
    return iteration_persist(
        work=work,
        call=call,
        verdict=StagnationVerdict(),
        started_at=timezone.now(),
        prefix=0,
        then=then,
    )


def _counters() -> tuple[int, int]:
    state = LoopState.objects.get(pk=LoopState.SINGLETON_ID)
    return state.iterations_total, state.tokens_total


def test_the_book_keeping_runs_last_with_everything_else_written(theme, generate_task):
    work, call = _answered(theme)
    seen = []

    def then(recorded: Iteration) -> None:
        task = Task.objects.get(pk=generate_task.pk)
        seen.append(
            (
                Iteration.objects.filter(pk=recorded.pk).exists(),
                Idea.objects.filter(theme=theme).count(),
                task.status,
                Iteration.objects.get(pk=recorded.pk).result.get("reviews_queued"),
            )
        )

    iteration = _persisted(work, call, then)
    assert seen == [(True, 3, Task.Status.DONE, [])]
    assert iteration.outcome == Iteration.Outcome.OK


def test_a_failing_book_keeping_writes_nothing_of_the_answer(theme, generate_task):
    work, call = _answered(theme)
    before = _counters()

    def then(recorded: Iteration) -> None:
        raise RuntimeError("the counters could not be written")

    with pytest.raises(RuntimeError, match="counters"):
        _persisted(work, call, then)
    assert not Iteration.objects.exists()
    assert not Idea.objects.exists()
    task = Task.objects.get(pk=generate_task.pk)
    assert (task.status, task.lease_owner) == (Task.Status.RUNNING, "w")
    assert _counters() == before


def test_a_persisted_answer_is_counted_once_with_its_prompt(theme, generate_task):
    report = iteration_run(worker="w", scheduled=False, client=ScriptedClient(Studio()))
    iteration = report.iteration
    assert iteration.outcome == Iteration.Outcome.OK
    assert _counters() == (1, iteration.prompt_tokens + iteration.completion_tokens)
    state = LoopState.objects.get(pk=LoopState.SINGLETON_ID)
    assert (state.current_task_id, state.current_role, state.last_iteration_at) == (
        None,
        "",
        state.last_iteration_at,
    )
    assert state.last_iteration_at is not None
    assert RolePrompt.objects.get(role="ideator").updated_at == state.last_iteration_at


def test_a_lease_lost_while_thinking_is_counted_once_after_the_rollback(
    theme, generate_task, monkeypatch
):
    real_call = iteration_module.role_call

    def call_then_lose_the_lease(**kwargs):
        outcome = real_call(**kwargs)
        # Another worker took the task over while the model was answering.
        Task.objects.filter(pk=generate_task.pk).update(lease_owner="other")
        return outcome

    monkeypatch.setattr(iteration_module, "role_call", call_then_lose_the_lease)
    report = iteration_run(worker="w", scheduled=False, client=ScriptedClient(Studio()))
    iteration = report.iteration
    assert iteration.outcome == Iteration.Outcome.LEASE_LOST
    assert not Idea.objects.exists()
    assert _counters() == (1, iteration.prompt_tokens + iteration.completion_tokens)
