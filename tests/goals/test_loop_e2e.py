"""The loop end to end over HTTP against the fake gpt-oss server (vLLM protocol).

The fake renders nothing itself: it decodes the Harmony prompt the client sent, and a
responder reads it (which role's instructions, which task) and answers like gpt-oss,
with an analysis channel and a final JSON answer, as real Harmony tokens.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from goals.models import Iteration, LoopState, Task
from goals.services import iteration_run, loop_start
from goals.services.loop import loop_state_get
from ideas.models import Idea, IdeaChange, Snapshot
from tests.fake_gptoss import FakeReply
from tests.goals.studio import Studio
from tests.llm_backends import llm_settings_point

pytestmark = pytest.mark.django_db


def studio_responder(studio: Studio):
    def respond(request) -> FakeReply:
        analysis, answer = studio.answer(request.prompt_text)
        return FakeReply(analysis=analysis, final=json.dumps(answer, ensure_ascii=False))

    return respond


@pytest.fixture
def fake(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


def run(n: int, *, scheduled: bool = False) -> list:
    return [iteration_run(worker="e2e", scheduled=scheduled) for _ in range(n)]


def test_a_run_fills_the_portfolio_and_the_iteration_log(theme, fake):
    studio = Studio()
    fake.responder = studio_responder(studio)
    reports = run(40)
    assert all(r.ran for r in reports)
    assert set(studio.calls) == {"planner", "ideator", "critic", "editor"}
    its = Iteration.objects.filter(theme=theme)
    assert its.count() == 40
    assert not its.filter(outcome="failed").exists()
    assert Idea.objects.filter(theme=theme).count() >= 10
    assert Idea.objects.filter(theme=theme, brand_fit__isnull=False).count() >= 3
    assert IdeaChange.objects.filter(field="summary", iteration_id__isnull=False).exists()
    assert Snapshot.objects.filter(theme=theme).count() >= 2
    ideator = its.filter(role="ideator").first()
    assert ideator.analysis.startswith("The request is")
    assert ideator.prompt_tokens > 1000 and ideator.completion_tokens > 50
    # The same role's prompts share their instructions: most of the prompt is a prefix hit.
    later = its.filter(role="ideator").order_by("id")[1:]
    assert all(it.prefix_shared_tokens > it.prompt_tokens * 0.5 for it in later)


def test_a_repeating_model_triggers_a_shake_up(theme, fake):
    studio = Studio(repeat=True)
    fake.responder = studio_responder(studio)
    for _ in range(60):
        iteration_run(worker="e2e", scheduled=False)
        if Iteration.objects.filter(task_kind="shake_up").exists():
            break
    shake_up = Task.objects.get(theme=theme, kind="shake_up")
    assert shake_up.priority > 50
    # Whichever role repeated itself queued it (issue 8: every role's update is judged),
    # and only after a run of repeats (the window), never on the first echo.
    role = shake_up.created_by_iteration.role
    same = Iteration.objects.filter(role=role, id__lte=shake_up.created_by_iteration_id)
    assert same.count() >= theme.stagnation_window + 1
    assert all(it.similarity == 1.0 for it in same.order_by("id")[1:])
    prompt = next(r.prompt_text for r in fake.requests if "SHAKE-UP" in r.prompt_text)
    assert "Recent directions (off limits)" in prompt
    assert "seasonal comfort goods" in prompt


def test_a_server_that_dies_and_comes_back(theme, fake):
    studio = Studio()
    fake.responder = studio_responder(studio)
    loop_start()
    run(2, scheduled=True)
    fake.stop()  # the server dies: nothing listens on its port any more
    report = iteration_run(worker="e2e", scheduled=True)
    assert report.iteration.error_class == "unreachable"
    state = loop_state_get()
    assert state.state == LoopState.State.BACKING_OFF
    status = _status()
    assert "state: Backing off" in status
    assert "[unreachable] model server unreachable" in status
    assert "connection refused" in status
    assert iteration_run(worker="e2e", scheduled=True).status == "backing_off"
    fake.start()  # it comes back on the same port
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31)):
        report = iteration_run(worker="e2e", scheduled=True)
    assert report.iteration.outcome == "ok"
    assert loop_state_get().state == LoopState.State.RUNNING
    assert not Task.objects.filter(status="running").exists()
    assert "backing off" not in _status()


def _status() -> str:
    out = io.StringIO()
    call_command("runloop", "status", stdout=out)
    return out.getvalue()


@pytest.mark.parametrize(
    "bad",
    [
        "Here are some ideas: a mug, a plush.",
        '{"direction": "mugs", "ideas": [{"title": "Mug"}]}',
    ],
)
def test_a_bad_answer_gets_one_repair_call(theme, fake, bad):
    Task.objects.create(theme=theme, kind="generate", priority=90)
    studio = Studio()
    answers = [FakeReply(analysis="hmm", final=bad)]

    def respond(request):
        if answers:
            return answers.pop(0)
        return studio_responder(studio)(request)

    fake.responder = respond
    report = iteration_run(worker="e2e", scheduled=False)
    it = report.iteration
    assert (it.role, it.outcome, it.model_calls) == ("ideator", "repaired", 2)
    repair_prompt = fake.requests[-1].prompt_text
    assert "Your previous answer was rejected" in repair_prompt
    assert bad in repair_prompt
    assert Idea.objects.count() == 3


def test_two_bad_answers_fail_the_iteration_with_its_class(theme, fake):
    task = Task.objects.create(theme=theme, kind="generate", priority=90)
    fake.responder = lambda request: FakeReply(final='{"direction": "x"}')
    report = iteration_run(worker="e2e", scheduled=False)
    it = report.iteration
    assert (it.outcome, it.error_class, it.model_calls) == ("failed", "schema_violation", 2)
    assert "'ideas' is a required property" in it.error_detail
    task.refresh_from_db()
    assert (task.status, task.attempts) == ("ready", 1)
    assert not Idea.objects.exists()


def test_malformed_harmony_fails_with_its_class(theme, fake):
    Task.objects.create(theme=theme, kind="generate", priority=90)
    fake.responder = lambda request: FakeReply(failure="malformed_harmony")
    it = iteration_run(worker="e2e", scheduled=False).iteration
    assert (it.outcome, it.error_class) == ("failed", "malformed_output")
    assert it.model_calls == 2  # the repair call was made, and failed the same way


def test_ideas_that_break_a_taboo_are_refused_and_recorded(theme, fake):
    Task.objects.create(theme=theme, kind="generate", priority=90)
    answer = Studio().ideator("", 7)
    answer["ideas"][0]["title"] = "Zombie horror plush for Halloween"
    fake.responder = lambda request: FakeReply(final=json.dumps(answer))
    it = iteration_run(worker="e2e", scheduled=False).iteration
    assert it.result["ideas_refused"] == ["Zombie horror plush for Halloween"]
    assert len(it.result["ideas_created"]) == 2
    assert not Idea.objects.filter(title__icontains="zombie").exists()
    assert theme.refusals.filter(title__icontains="zombie").exists()
