"""iteration_run end to end in-process (the model is a scripted studio, not HTTP)."""

from __future__ import annotations

import pytest

from goals.models import Iteration, LoopState, Task
from goals.services import iteration_run, loop_pause, loop_start
from ideas.models import Idea, IdeaChange, Snapshot
from tests.goals.factories import IdeaFactory
from tests.goals.studio import Studio, StudioClient

pytestmark = pytest.mark.django_db


def run(client, n: int, *, scheduled: bool = False) -> list:
    return [iteration_run(worker="w1", scheduled=scheduled, client=client) for _ in range(n)]


def test_with_an_empty_queue_the_planner_makes_tasks(theme):
    client = StudioClient()
    report = iteration_run(worker="w1", scheduled=False, client=client)
    assert report.ran
    it = report.iteration
    assert (it.role, it.task_id, it.task_kind, it.outcome) == ("planner", None, "plan", "ok")
    assert Task.objects.filter(theme=theme, kind="generate", status="ready").exists()
    assert it.result["tasks_queued"]


def test_a_run_generates_criticises_refines_and_snapshots(theme):
    client = StudioClient()
    reports = run(client, 30)
    assert all(r.ran for r in reports)
    roles = {r.iteration.role for r in reports}
    assert {"planner", "ideator", "critic", "editor", "system"} <= roles
    assert Idea.objects.filter(theme=theme).count() >= 6
    assert Idea.objects.filter(theme=theme, brand_fit__isnull=False).exists()
    assert IdeaChange.objects.filter(field="summary", iteration_id__isnull=False).exists()
    assert Snapshot.objects.filter(theme=theme).exists()
    assert not Iteration.objects.filter(outcome="failed").exists()
    state = LoopState.objects.get()
    assert state.iterations_total == 30
    assert state.current_task_id is None


def test_it_records_tokens_and_prefix_sharing(theme):
    client = StudioClient()
    run(client, 6)
    its = list(Iteration.objects.exclude(role="system").order_by("id"))
    assert all(it.prompt_tokens > 0 for it in its)
    seen: set[str] = set()
    for it in its:
        if it.role in seen:
            assert it.prefix_shared_tokens > 500, it
        seen.add(it.role)


def test_a_paused_loop_does_nothing(theme):
    loop_start()
    loop_pause(reason="people are reviewing")
    report = iteration_run(worker="w1", scheduled=True, client=StudioClient())
    assert (report.status, report.detail) == ("paused", "people are reviewing")
    assert not Iteration.objects.exists()


def test_the_scheduled_loop_does_nothing_while_stopped(theme):
    report = iteration_run(worker="w1", scheduled=True, client=StudioClient())
    assert report.status == "stopped"


def test_without_a_theme_it_says_so(db):
    report = iteration_run(worker="w1", scheduled=False, client=StudioClient())
    assert report.status == "no_theme"
    assert "newtheme" in report.detail


def test_stagnation_queues_a_shake_up(theme):
    client = StudioClient(Studio(repeat=True))
    run(client, 25)
    shake = Task.objects.filter(theme=theme, kind="shake_up")
    assert shake.exists()
    ran = Iteration.objects.filter(task_kind="shake_up")
    assert ran.exists()
    prompt = next(r.user for r in client.requests if "SHAKE-UP" in (r.user or ""))
    assert "off limits" in prompt
    assert "seasonal comfort goods" in prompt


def test_human_corrections_steer_the_planner(theme, alice):
    from ideas.services import idea_human_correct, idea_mark_reviewed, idea_scores_set

    ideas = [IdeaFactory(theme=theme, title=f"Scored idea {n}") for n in range(4)]
    for idea in ideas:
        idea_scores_set(
            idea=idea, scores={"brand_fit": 6, "novelty": 6, "feasibility": 6}, iteration_id=None
        )
    underdog = ideas[-1]
    idea_human_correct(idea=underdog, user=alice, brand_fit=10, novelty=9)
    idea_mark_reviewed(idea_ids=[underdog.pk], user=alice)
    client = StudioClient()
    report = iteration_run(worker="w1", scheduled=False, client=client)
    assert report.iteration.role == "planner"
    prompt = client.requests[0].user
    corrections = prompt.split("# People's corrections (follow their lead)")[1]
    assert f"#{underdog.pk} Scored idea 3: reviewed by a person;" in corrections
    focus = prompt.split("## Ideas in focus")[1]
    assert focus.index(f"[#{underdog.pk}]") < focus.index(f"[#{ideas[0].pk}]")
    # The studio plans its first critique on the ideas listed first: the corrected one.
    critique = Task.objects.get(theme=theme, kind="critique")
    assert underdog in critique.ideas.all()
