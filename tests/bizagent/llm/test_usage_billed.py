"""Every answer the server billed is counted, usable or not (issue 7, item 13).

A truncated answer, one that is not Harmony, one against the schema, a call to a tool
nobody offered: the server spent (and reported) the tokens all the same, so the error
carries that usage, and a client that retried sums it over every attempt.
"""

from __future__ import annotations

import pytest

from bizagent.llm.errors import (
    LLMMalformedOutput,
    LLMSchemaViolation,
    LLMServerError,
    LLMTruncatedOutput,
    LLMUnknownTool,
)
from bizagent.llm.result import usage_ollama, usage_openai
from bizagent.llm.types import Usage
from tests.bizagent.llm.test_backends_http import IDEA, request
from tests.fake_gptoss import FakeReply
from tests.llm_backends import BACKENDS, fake_client


def billed(fake) -> tuple[int, int]:
    return fake.usage_total()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("reply", "error", "format_"),
    [
        (
            FakeReply(analysis="long " * 200, final="never finished", failure="truncate"),
            LLMTruncatedOutput,
            None,
        ),
        (FakeReply(analysis="Sure.", final="I like this idea a lot."), LLMSchemaViolation, IDEA),
        (FakeReply(tool_calls=[("launch_rockets", {"count": 3})]), LLMUnknownTool, None),
    ],
    ids=["truncated", "schema_violation", "unknown_tool"],
)
def test_a_bad_answer_carries_the_usage_the_server_billed(
    fake_gptoss, backend, reply, error, format_
):
    fake_gptoss.enqueue(reply)
    client = fake_client(fake_gptoss, backend)
    with pytest.raises(error) as caught:
        client.complete(request(response_format=format_))
    assert len(fake_gptoss.usages) == 1
    prompt, completion = billed(fake_gptoss)
    assert prompt > 0 and completion > 0
    usage = caught.value.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (prompt, completion)
    assert caught.value.attempts == 1


def test_an_answer_that_is_not_harmony_is_billed_too(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(failure="malformed_harmony"))
    with pytest.raises(LLMMalformedOutput) as caught:
        fake_client(fake_gptoss, "vllm").complete(request())
    usage = caught.value.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == billed(fake_gptoss)


@pytest.mark.parametrize("backend", BACKENDS)
def test_retried_attempts_are_summed_into_the_result(fake_gptoss, backend):
    if backend == "vllm":
        bad = FakeReply(failure="malformed_harmony")
    else:  # chat servers parse Harmony themselves; a turn with no final is unusable
        bad = FakeReply(
            analysis="thinking only", raw_completion="<|channel|>final<|message|><|return|>"
        )
    fake_gptoss.enqueue(bad, bad, FakeReply(analysis="ok", final="hello"))
    result = fake_client(fake_gptoss, backend, retries=2).complete(request())
    assert result.attempts == 3
    assert len(fake_gptoss.usages) == 3
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == billed(fake_gptoss)


def test_when_the_retries_run_out_the_error_carries_every_attempt(fake_gptoss):
    bad = FakeReply(failure="malformed_harmony")
    fake_gptoss.enqueue(bad, bad, bad)
    with pytest.raises(LLMMalformedOutput) as caught:
        fake_client(fake_gptoss, "vllm", retries=2).complete(request())
    assert caught.value.attempts == 3
    usage = caught.value.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == billed(fake_gptoss)
    assert len(fake_gptoss.usages) == 3


def test_an_http_error_bills_nothing(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(failure="status:400"))
    with pytest.raises(LLMServerError) as caught:
        fake_client(fake_gptoss, "vllm").complete(request())
    assert caught.value.usage is None
    assert fake_gptoss.usages == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"usage": {"prompt_tokens": 7, "completion_tokens": 3}}, Usage(7, 3)),
        (
            {
                "usage": {
                    "prompt_tokens": 7,
                    "completion_tokens": 3,
                    "prompt_tokens_details": {"cached_tokens": 4},
                }
            },
            Usage(7, 3, 4),
        ),
        ({"usage": {"prompt_tokens": "x", "completion_tokens": None}}, Usage(0, 0)),
        ({"usage": "garbled"}, Usage(0, 0)),
        ([], Usage(0, 0)),
    ],
)
def test_usage_is_read_leniently_from_a_garbled_answer(body, expected):
    assert usage_openai(body) == expected


def test_ollama_usage_comes_from_the_eval_counts():
    assert usage_ollama({"prompt_eval_count": 12, "eval_count": 5}) == Usage(12, 5)
    assert usage_ollama({"eval_count": "?"}) == Usage(0, 0)


def test_usages_add_up_and_keep_cached_unknown_until_a_server_says():
    assert Usage(1, 2) + Usage(3, 4) == Usage(4, 6, None)
    assert Usage(1, 2, 5) + Usage(3, 4) == Usage(4, 6, 5)
