"""The LangGraph yardstick of ``benchmarks/loop.py`` really loops, calls the model and
checkpoints: a few iterations against the fake gpt-oss server answering as the studio."""

from __future__ import annotations

import json

import pytest

from benchmarks.langgraph_loop import LangGraphLoop
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.goals.studio import Studio


@pytest.fixture
def fake(settings):
    """The fake server on loopback answering like the scripted studio, as Harmony tokens
    (the set-up of ``benchmarks/loop.py``'s ``fake_server_use``)."""
    studio = Studio()
    with FakeGptOss() as server:
        server.responder = lambda request: FakeReply(
            analysis="Thinking about the brand.",
            final=json.dumps(studio.answer(request.prompt_text)[1], ensure_ascii=False),
        )
        settings.LLM_BACKEND = "vllm"
        settings.LLM_BASE_URL = server.base_url("vllm")
        settings.LLM_MAX_RETRIES = 0
        yield server


def test_three_iterations_generate_critique_refine_and_checkpoint_each_step(fake, tmp_path):
    loop = LangGraphLoop(directory=tmp_path)
    try:
        state = loop.run(3)
        checkpoints = loop.checkpoints()
    finally:
        loop.close()

    # One model call per iteration, over the vLLM wire (token ids to /v1/completions),
    # each prompt carrying the theme and naming its role.
    assert [r.path for r in fake.requests] == ["/v1/completions"] * 3
    prompts = [r.prompt_text for r in fake.requests]
    roles = [
        next(r for r in ("ideator", "critic", "editor") if f"You are the {r}" in p) for p in prompts
    ]
    assert roles == ["ideator", "critic", "editor"]
    assert all("Mochiusa" in p for p in prompts)
    assert "CRITIQUE ideas #2, #3" in prompts[1]
    assert "[#3]" in prompts[2]

    assert state["iterations"] == 3
    ideas = {idea["id"]: idea for idea in state["ideas"]}
    assert sorted(ideas) == [1, 2, 3]
    assert all(idea["title"] for idea in ideas.values())
    assert set(ideas[2]["scores"]) == {"brand_fit", "novelty", "feasibility"}
    assert ideas[3]["summary"].startswith("Sharper pitch:")
    # LangGraph's default: a checkpoint for the input and one after every step.
    assert checkpoints >= 4
    assert (tmp_path / "checkpoints.sqlite3").stat().st_size > 0


def test_a_second_run_carries_on_the_same_thread_from_its_checkpoint(fake, tmp_path):
    loop = LangGraphLoop(directory=tmp_path)
    try:
        loop.run(3)
        before = loop.checkpoints()
        state = loop.run(2)
        after = loop.checkpoints()
    finally:
        loop.close()

    assert state["iterations"] == 5
    # The queue was refilled after the refine: the fourth call generates again.
    assert len(state["ideas"]) == 6
    assert "CRITIQUE ideas #5, #6" in fake.requests[4].prompt_text
    assert after >= before + 2
