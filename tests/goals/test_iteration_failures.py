"""Bad answers, a dead server and a dead worker, in-process."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from bizagent.llm.errors import LLMUnreachable
from goals.models import Iteration, LoopState, Task
from goals.roles import request_build
from goals.services import iteration_run, loop_start, task_create
from goals.services.calls import CallOutcome, role_call
from goals.services.iteration import user_message_build
from goals.services.loop import loop_state_get
from goals.services.record import StagnationVerdict, iteration_persist
from goals.services.work import Work, work_pick
from ideas.context import context_build
from ideas.models import Idea
from tests.goals.studio import ScriptedClient, Studio

pytestmark = pytest.mark.django_db


@pytest.fixture
def generate_task(theme):
    task, _ = task_create(theme=theme, kind="generate", priority=80)
    return task


def test_a_schema_violation_gets_one_repair_call_quoting_the_error(theme, generate_task):
    client = ScriptedClient()
    client.fail_next('{"direction": "x", "ideas": "not a list"}')
    report = iteration_run(worker="w", scheduled=False, client=client)
    it = report.iteration
    assert it.outcome == Iteration.Outcome.REPAIRED
    assert it.model_calls == 2
    repair = client.requests[1]
    assert "was rejected" in repair.user
    assert "is not of type 'array'" in repair.user
    assert repair.instructions == client.requests[0].instructions
    assert repair.history[-1].content == '{"direction": "x", "ideas": "not a list"}'
    assert Idea.objects.filter(theme=theme).count() == 3
    generate_task.refresh_from_db()
    assert generate_task.status == Task.Status.DONE


def test_a_second_violation_fails_the_iteration_with_its_class(theme, generate_task):
    client = ScriptedClient()
    client.fail_next("I think these ideas are great!", '{"ideas": []}')
    report = iteration_run(worker="w", scheduled=False, client=client)
    it = report.iteration
    assert (it.outcome, it.error_class, it.model_calls) == ("failed", "schema_violation", 2)
    assert "ideas" in it.error_detail
    assert not Idea.objects.exists()
    generate_task.refresh_from_db()
    assert (generate_task.status, generate_task.attempts) == (Task.Status.READY, 1)
    assert generate_task.last_error.startswith("schema_violation")
    state = loop_state_get()
    assert state.last_error_class == "schema_violation"
    assert state.iterations_failed == 1
    assert state.state == LoopState.State.STOPPED  # an answer's fault, not the server's


def test_an_unreachable_server_backs_off_then_recovers(theme, generate_task):
    loop_start()
    client = ScriptedClient()
    client.fail_next(LLMUnreachable("connection refused", url="http://127.0.0.1:9/v1"))
    report = iteration_run(worker="w", scheduled=True, client=client)
    assert report.iteration.error_class == "unreachable"
    generate_task.refresh_from_db()
    assert (generate_task.status, generate_task.attempts) == (Task.Status.READY, 0)
    state = loop_state_get()
    assert state.state == LoopState.State.BACKING_OFF
    assert "connection refused" in state.reason
    waiting = iteration_run(worker="w", scheduled=True, client=client)
    assert waiting.status == "backing_off"
    assert 0 < waiting.wait_seconds <= 30
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31)):
        report = iteration_run(worker="w", scheduled=True, client=client)
    assert report.iteration.outcome == Iteration.Outcome.OK
    state = loop_state_get()
    assert (state.state, state.backoff_until, state.backoff_failures) == ("running", None, 0)


def studio_answered(*, work: Work, studio: Studio) -> CallOutcome:
    """The studio's good answer to ``work``'s prompt, built as the loop builds it."""
    context = context_build(theme=work.theme, role=work.role, focus_ideas=[], token_budget=6000)
    request = request_build(
        role=work.role,
        brand_text=context.developer_text,
        user=user_message_build(work=work, ideas_text=context.ideas_text),
        max_tokens=1000,
        day=timezone.localdate(),
    )
    call = role_call(client=ScriptedClient(studio), request=request)
    assert call.ok
    return call


def test_a_killed_worker_loses_its_task_and_writes_nothing(theme, generate_task):
    studio = Studio(repeat=True)  # both workers get the same answer
    state = loop_state_get()
    dead = work_pick(theme=theme, worker="dead", state=state, now=timezone.now())
    assert dead.task.pk == generate_task.pk
    call = studio_answered(work=dead, studio=studio)
    # The dead worker never comes back in time; its lease runs out and another takes over.
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=601)):
        report = iteration_run(worker="alive", scheduled=False, client=ScriptedClient(studio))
        assert report.iteration.task_id == generate_task.pk
        assert report.iteration.outcome == "ok"
        assert Idea.objects.count() == 3
        # Now the dead worker wakes up and tries to write its results.
        from goals.services import LeaseLost

        with pytest.raises(LeaseLost):
            iteration_persist(
                work=dead,
                call=call,
                verdict=StagnationVerdict(),
                started_at=timezone.now(),
                prefix=0,
            )
    assert Idea.objects.count() == 3
    assert Iteration.objects.filter(task=generate_task).count() == 1
    generate_task.refresh_from_db()
    # The killed worker's claim is not an attempt of the task (issue 7, item 12).
    assert (generate_task.status, generate_task.attempts) == (Task.Status.DONE, 1)
    assert generate_task.lease_losses == 1


def test_a_task_whose_ideas_are_gone_fails_without_a_model_call(theme):
    task, _ = task_create(theme=theme, kind="critique", priority=90)
    Idea.objects.all().delete()
    client = ScriptedClient()
    report = iteration_run(worker="w", scheduled=False, client=client)
    assert report.iteration.error_class == "no_ideas"
    assert client.requests == []
    task.refresh_from_db()
    assert task.status == Task.Status.FAILED
