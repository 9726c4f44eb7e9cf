"""The fake gpt-oss server itself: protocol shapes, genuine Harmony, prefix counting."""

from __future__ import annotations

import random

import jsonschema
import pytest
import requests
from openai_harmony import Role

from bizagent.llm.harmony import harmony_encoding, harmony_stop_token_ids
from tests.fake_gptoss import (
    PREFIX_BLOCK,
    PREFIX_PROMPTS,
    FakeGptOss,
    FakeReply,
    completion_text,
    json_for_schema,
)


def test_vllm_answers_with_token_ids_that_parse_back_to_the_script(fake_gptoss):
    enc = harmony_encoding()
    prompt = enc.encode(
        "<|start|>user<|message|>hi<|end|><|start|>assistant", allowed_special="all"
    )
    fake_gptoss.enqueue(FakeReply(analysis="think", tool_calls=[("f", {"a": 1})]))
    body = requests.post(
        fake_gptoss.base_url("vllm") + "/completions",
        json={
            "model": "openai/gpt-oss-20b",
            "prompt": prompt,
            "max_tokens": 100,
            "stop_token_ids": harmony_stop_token_ids(),
            "skip_special_tokens": False,
            "return_token_ids": True,
        },
        timeout=5,
    ).json()
    choice = body["choices"][0]
    assert body["object"] == "text_completion"
    assert choice["prompt_token_ids"] == prompt
    assert choice["finish_reason"] == "stop" and choice["stop_reason"] == 200012
    assert choice["token_ids"][-1] == 200012
    assert "<|call|>" in choice["text"]
    messages = enc.parse_messages_from_completion_tokens(choice["token_ids"], Role.ASSISTANT)
    assert [(m.channel, m.recipient) for m in messages] == [
        ("analysis", None),
        ("commentary", "functions.f"),
    ]
    assert body["usage"]["prompt_tokens"] == len(prompt)


def test_repeated_prompts_report_cached_prefix_in_whole_blocks(fake_gptoss):
    enc = harmony_encoding()
    base = enc.encode("word " * 100, allowed_special=set())
    url = fake_gptoss.base_url("vllm") + "/completions"
    first = requests.post(url, json={"model": "openai/gpt-oss-20b", "prompt": base}, timeout=5)
    assert first.json()["usage"]["prompt_tokens_details"] is None
    second = requests.post(
        url, json={"model": "openai/gpt-oss-20b", "prompt": [*base[:50], 1, 2, 3]}, timeout=5
    )
    assert second.json()["usage"]["prompt_tokens_details"] == {"cached_tokens": 48}


def _cached_by_comparing(earlier: list[list[int]], prompt: list[int]) -> int:
    """The prefix cache's definition: the longest prefix shared with one of the last
    ``PREFIX_PROMPTS`` prompts, cut to whole blocks."""
    best = 0
    for seen in earlier[-PREFIX_PROMPTS:]:
        shared = 0
        for a, b in zip(seen, prompt, strict=False):
            if a != b:
                break
            shared += 1
        best = max(best, shared)
    return best // PREFIX_BLOCK * PREFIX_BLOCK


def test_the_prefix_cache_reports_what_comparing_every_kept_prompt_reports():
    """Prompts that share prefixes of every length (a few families, each prompt a family's
    stem cut somewhere, then its own tail), past the number of prompts kept, so
    forgotten prompts must stop counting."""
    rng = random.Random(8)
    fake = FakeGptOss()
    stems = [[rng.randrange(50) for _ in range(300)] for _ in range(4)]
    earlier: list[list[int]] = []
    reported = []
    for _ in range(3 * PREFIX_PROMPTS):
        stem = rng.choice(stems)
        prompt = stem[: rng.randrange(0, 301)] + [
            rng.randrange(50) for _ in range(rng.randrange(40))
        ]
        expected = _cached_by_comparing(earlier, prompt)
        assert fake.cached_prefix(prompt) == expected
        reported.append(expected)
        earlier.append(prompt)
    assert len(set(reported)) > 10  # many prefix lengths, not only 0 or everything
    assert len(fake._prefix_paths) == PREFIX_PROMPTS

    # A prompt is forgotten after PREFIX_PROMPTS others, and its blocks with it.
    alone = [100 + n for n in range(64)]
    fake.cached_prefix(alone)
    assert fake.cached_prefix(alone) == 64
    for n in range(PREFIX_PROMPTS):
        fake.cached_prefix([200 + n] * 32)
    assert fake.cached_prefix(alone) == 0


def test_ollama_and_openai_shapes_come_from_parsing_harmony(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(analysis="hmm", tool_calls=[("f", {"a": 1})]))
    ollama = requests.post(
        fake_gptoss.base_url("ollama") + "/api/chat",
        json={
            "model": "gpt-oss:20b",
            "messages": [{"role": "user", "content": "x"}],
            "stream": False,
        },
        timeout=5,
    ).json()
    assert ollama["done"] is True and ollama["done_reason"] == "stop"
    assert ollama["message"]["thinking"] == "hmm"
    assert ollama["message"]["tool_calls"] == [{"function": {"name": "f", "arguments": {"a": 1}}}]
    fake_gptoss.enqueue(FakeReply(analysis="hmm", final="done"))
    chat = requests.post(
        fake_gptoss.base_url("openai") + "/chat/completions",
        json={"model": "openai/gpt-oss-20b", "messages": [{"role": "user", "content": "x"}]},
        timeout=5,
    ).json()
    message = chat["choices"][0]["message"]
    assert message["content"] == "done" and message["reasoning_content"] == "hmm"
    assert chat["object"] == "chat.completion" and chat["usage"]["prompt_tokens"] > 0


def test_unknown_models_get_each_servers_404(fake_gptoss):
    vllm = requests.post(
        fake_gptoss.base_url("vllm") + "/completions",
        json={"model": "nope", "prompt": [1]},
        timeout=5,
    )
    assert vllm.status_code == 404 and "does not exist" in vllm.json()["message"]
    ollama = requests.post(
        fake_gptoss.base_url("ollama") + "/api/chat",
        json={"model": "nope", "messages": []},
        timeout=5,
    )
    assert ollama.status_code == 404 and "try pulling it first" in ollama.json()["error"]


def test_a_dropped_connection_really_drops(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(failure="unreachable"))
    with pytest.raises(requests.ConnectionError):
        requests.post(
            fake_gptoss.base_url("vllm") + "/completions",
            json={"model": "openai/gpt-oss-20b", "prompt": [1]},
            timeout=5,
        )


def test_a_final_answer_is_the_harmony_the_model_emits():
    text = completion_text(FakeReply(final="hello"))
    assert text == "<|channel|>final<|message|>hello<|return|>"


@pytest.mark.parametrize(
    "schema",
    [
        {
            "type": "object",
            "properties": {"a": {"type": "string", "minLength": 5}},
            "required": ["a"],
        },
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "minItems": 2, "items": {"enum": ["x", "y"]}},
                "n": {"type": "integer", "minimum": 1, "maximum": 3},
                "f": {"type": ["number", "null"]},
            },
            "required": ["items", "n", "f"],
        },
    ],
)
def test_json_for_schema_satisfies_the_schema(schema):
    jsonschema.validate(json_for_schema(schema), schema)


def test_the_time_spent_answering_is_counted_for_benchmarks(fake_gptoss):
    """A benchmark's wall time includes the stand-in model's own time; the fake counts it
    so the benchmark can say how much (``benchmarks/loop.py``)."""
    assert fake_gptoss.answering_seconds == 0
    fake_gptoss.enqueue(FakeReply(final="slow", delay=0.2), FakeReply(final="quick"))
    for _ in range(2):
        requests.post(
            fake_gptoss.base_url("vllm") + "/completions",
            json={"model": "openai/gpt-oss-20b", "prompt": [1, 2, 3], "max_tokens": 50},
            timeout=5,
        ).raise_for_status()
    assert len(fake_gptoss.requests) == 2
    assert fake_gptoss.answering_seconds >= 0.2
