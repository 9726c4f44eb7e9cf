"""Every model call is counted, and near-valid answers cost nothing extra (issue 7, 13-14).

Over HTTP against the fake gpt-oss server (vLLM protocol), which records the usage it
reports with each answer: the iteration's token figures and the daily total must equal
the server's, summed over every call, whether the answer was usable or not.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.utils import timezone

from goals.models import Iteration, LoopState, Task
from goals.selectors import tokens_used_today
from goals.services import iteration_run, loop_start, task_create
from goals.services.loop import loop_state_get
from ideas.models import Idea
from tests.fake_gptoss import FakeReply
from tests.goals.studio import Studio
from tests.llm_backends import llm_settings_point

pytestmark = pytest.mark.django_db


def _policy(theme, **policy):
    config = dict(theme.config)
    config["iteration_policy"] = {**config["iteration_policy"], **policy}
    theme.config = config
    theme.save()


@pytest.fixture
def fake(fake_gptoss, settings):
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


def answering(studio: Studio, edit=None):
    """A responder that answers like the studio, after ``edit`` changed the answer."""

    def respond(request) -> FakeReply:
        analysis, answer = studio.answer(request.prompt_text)
        if edit is not None:
            edit(answer)
        return FakeReply(analysis=analysis, final=json.dumps(answer, ensure_ascii=False))

    return respond


def billed(fake) -> tuple[int, int]:
    return fake.usage_total()


@pytest.fixture
def generate(theme):
    task, _ = task_create(theme=theme, kind="generate", priority=80)
    return task


def test_a_repaired_iteration_records_both_calls_tokens(theme, generate, fake):
    fake.enqueue(FakeReply(analysis="Hm.", final='{"direction": "x", "ideas": "not a list"}'))
    fake.responder = answering(Studio())
    it = iteration_run(worker="w", scheduled=False).iteration
    assert it.outcome == Iteration.Outcome.REPAIRED
    assert len(fake.usages) == 2
    assert (it.prompt_tokens, it.completion_tokens) == billed(fake)
    assert it.model_calls == 2
    main, repair = it.calls
    assert (main["purpose"], main["error_class"]) == ("main", "schema_violation")
    assert (repair["purpose"], repair["error_class"]) == ("repair", "")
    assert main["prompt_tokens"] == fake.usages[0]["prompt_tokens"] > 0
    assert repair["completion_tokens"] == fake.usages[1]["completion_tokens"] > 0
    assert tokens_used_today(theme=theme) == sum(billed(fake))


@pytest.mark.parametrize(
    ("replies", "error_class", "calls"),
    [
        ([FakeReply(analysis="long " * 50, final="{}", failure="truncate")], "truncated_output", 1),
        ([FakeReply(failure="malformed_harmony")] * 2, "malformed_output", 2),
        (
            [FakeReply(final="I like these."), FakeReply(final="Still no JSON.")],
            "schema_violation",
            2,
        ),
        ([FakeReply(tool_calls=[("launch_rockets", {"count": 3})])], "unknown_tool", 1),
    ],
    ids=["truncated", "malformed", "schema_violation", "unknown_tool"],
)
def test_a_failed_iteration_counts_every_billed_call(
    theme, generate, fake, replies, error_class, calls
):
    fake.enqueue(*replies)
    it = iteration_run(worker="w", scheduled=False).iteration
    assert (it.outcome, it.error_class, it.model_calls) == ("failed", error_class, calls)
    assert len(fake.usages) == calls
    assert it.prompt_tokens > 0
    assert (it.prompt_tokens, it.completion_tokens) == billed(fake)
    assert tokens_used_today(theme=theme) == sum(billed(fake))
    assert loop_state_get().tokens_total == sum(billed(fake))


def test_the_daily_budget_trips_on_a_model_that_only_answers_badly(theme, generate, fake):
    _policy(theme, daily_token_budget=5_000)
    fake.responder = lambda request: FakeReply(final="Here are my thoughts, no JSON.")
    reports = []
    for _ in range(10):
        report = iteration_run(worker="w", scheduled=False)
        reports.append(report)
        if not report.ran:
            break
        # Bad answers back off after a streak; this test is about the budget alone.
        LoopState.objects.update(backoff_until=None, backoff_failures=0)
    assert reports[-1].status == "budget"
    assert all(r.iteration.outcome == "failed" for r in reports[:-1])
    used = tokens_used_today(theme=theme)
    assert used == sum(billed(fake)) >= 5_000
    assert f"{used:,}" in reports[-1].detail
    requests = len(fake.requests)
    assert iteration_run(worker="w", scheduled=False).status == "budget"
    assert len(fake.requests) == requests  # nothing more is spent


def test_repeated_bad_answers_back_off_then_a_good_one_recovers(theme, fake, settings):
    settings.GOALS_BAD_ANSWERS_BACKOFF_AFTER = 3
    loop_start()
    studio = Studio()
    good = answering(studio)
    fake.responder = lambda request: FakeReply(analysis="...", final="not json", failure="truncate")
    for n in range(2):
        report = iteration_run(worker="w", scheduled=True)
        assert report.iteration.error_class == "truncated_output"
        assert loop_state_get().state == LoopState.State.RUNNING, n
    report = iteration_run(worker="w", scheduled=True)
    assert report.iteration.error_class == "truncated_output"
    state = loop_state_get()
    assert state.state == LoopState.State.BACKING_OFF
    assert "the last 3 answers were unusable" in state.reason
    assert "truncated" in state.reason
    requests = len(fake.requests)
    waiting = iteration_run(worker="w", scheduled=True)
    assert waiting.status == "backing_off"
    assert 0 < waiting.wait_seconds <= 30
    assert len(fake.requests) == requests  # backing off spends nothing
    fake.responder = good
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=31)):
        report = iteration_run(worker="w", scheduled=True)
    assert report.iteration.outcome == Iteration.Outcome.OK
    state = loop_state_get()
    assert (state.state, state.backoff_until, state.backoff_failures) == ("running", None, 0)


def test_good_answers_between_bad_ones_do_not_back_off(theme, fake, settings):
    settings.GOALS_BAD_ANSWERS_BACKOFF_AFTER = 2
    loop_start()
    good = answering(Studio())
    bad = FakeReply(analysis="...", final="not json", failure="truncate")
    for _ in range(3):
        fake.enqueue(bad)
        assert iteration_run(worker="w", scheduled=True).iteration.outcome == "failed"
        fake.responder = good
        assert iteration_run(worker="w", scheduled=True).iteration.outcome == "ok"
    assert loop_state_get().state == LoopState.State.RUNNING


def _duplicate_tags(answer):
    for idea in answer.get("ideas", []):
        idea["tags"] = [*idea["tags"], idea["tags"][0], idea["tags"][-1]]


def test_duplicate_tags_are_accepted_without_a_repair_call(theme, generate, fake):
    fake.responder = answering(Studio(), edit=_duplicate_tags)
    it = iteration_run(worker="w", scheduled=False).iteration
    assert len(fake.requests) == 1
    assert (it.outcome, it.model_calls) == (Iteration.Outcome.OK, 1)
    assert len(it.normalisations) == 3  # one note per idea
    assert it.normalisations[0].startswith("$.ideas[0].tags: removed 2 duplicate items")
    assert all(len(set(i["tags"])) == len(i["tags"]) for i in it.parsed["ideas"])
    assert '"tags"' in it.final  # the raw answer is kept as the model sent it
    idea = Idea.objects.get(pk=it.result["ideas_created"][0])
    assert idea.tags.count() == 2


def test_a_wrong_type_still_goes_to_repair(theme, generate, fake):
    fake.enqueue(
        FakeReply(
            final=json.dumps(
                {"direction": "calm goods", "ideas": [{**_idea(), "tags": "tea, tea"}]}
            )
        )
    )
    fake.responder = answering(Studio())
    it = iteration_run(worker="w", scheduled=False).iteration
    assert len(fake.requests) == 2
    assert it.outcome == Iteration.Outcome.REPAIRED
    assert "is not of type 'array'" in fake.requests[1].prompt_text
    assert it.normalisations == []


def _idea():
    return {
        "title": "Moon tea set for nurses",
        "summary": "A calm tea set for night-shift nurses.",
        "target_audience": "night-shift nurses",
        "value_proposition": "A small reward at the end of a long shift.",
        "revenue_model": "¥3,000 per set",
        "tags": ["tea"],
        "builds_on": [],
    }


def test_an_answer_that_cannot_be_persisted_still_counts_its_tokens(
    theme, generate, fake, monkeypatch
):
    import dataclasses

    from goals.roles import HANDLERS

    def broken(**kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setitem(
        HANDLERS, "ideator", dataclasses.replace(HANDLERS["ideator"], persist=broken)
    )
    fake.responder = answering(Studio())
    with pytest.raises(RuntimeError, match="disk full"):
        iteration_run(worker="w", scheduled=False)
    it = Iteration.objects.get()
    assert (it.outcome, it.error_class) == ("failed", "persist_error")
    assert "RuntimeError: disk full" in it.error_detail
    assert (it.prompt_tokens, it.completion_tokens) == billed(fake)
    assert tokens_used_today(theme=theme) == sum(billed(fake))
    assert loop_state_get().tokens_total == sum(billed(fake))
    assert not Idea.objects.exists()
    # Issue 8: the task is settled now (retried later), not left running on its lease.
    generate.refresh_from_db()
    assert generate.status == Task.Status.READY and generate.last_error.startswith("persist")
