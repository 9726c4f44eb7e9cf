"""The tool loop: tool calls run through Python callables until a final answer, bounded."""

from __future__ import annotations

import json

import pytest

from bizagent.llm.client import LLMClient
from bizagent.llm.harmony import harmony_encoding
from bizagent.llm.tool_loop import LLMToolLoopExceeded, tool_loop_run
from bizagent.llm.types import ChatRequest, ToolSpec
from tests.fake_gptoss import FakeReply
from tests.llm_backends import fake_client

LOOKUP = ToolSpec(
    "lookup_price",
    "Price of a product in JPY.",
    {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]},
)
REQUEST = ChatRequest(
    instructions="Answer pricing questions.", user="What do A1 and B2 cost?", tools=(LOOKUP,)
)


def vllm_client(fake) -> LLMClient:
    return fake_client(fake, "vllm", context_tokens=8192)


def test_it_runs_tools_and_feeds_results_back_until_final(fake_gptoss):
    prices = {"A1": 1200, "B2": 3400}
    seen: list[dict] = []

    def lookup(arguments: dict) -> dict:
        seen.append(arguments)
        return {"sku": arguments["sku"], "price": prices[arguments["sku"]]}

    fake_gptoss.enqueue(
        FakeReply(analysis="Look up A1 first.", tool_calls=[("lookup_price", {"sku": "A1"})]),
        FakeReply(analysis="Now B2.", tool_calls=[("lookup_price", {"sku": "B2"})]),
        FakeReply(final="A1 costs 1200 JPY and B2 costs 3400 JPY."),
    )
    outcome = tool_loop_run(vllm_client(fake_gptoss), REQUEST, {"lookup_price": lookup})
    assert outcome.result.final == "A1 costs 1200 JPY and B2 costs 3400 JPY."
    assert outcome.rounds == 3
    assert seen == [{"sku": "A1"}, {"sku": "B2"}]
    # The third prompt holds the turn in progress: both rounds' reasoning, calls, results.
    enc = harmony_encoding()
    third = enc.decode_utf8(fake_gptoss.requests[2].body["prompt"])
    assert "Look up A1 first." in third and "Now B2." in third
    assert (
        "<|start|>functions.lookup_price to=assistant<|channel|>commentary<|message|>"
        + json.dumps({"sku": "B2", "price": 3400})
        + "<|end|>"
    ) in third
    assert outcome.prompt_tokens > 0 and outcome.completion_tokens > 0


def test_a_failing_tool_is_reported_to_the_model(fake_gptoss):
    def broken(arguments: dict) -> dict:
        raise KeyError(arguments["sku"])

    fake_gptoss.enqueue(
        FakeReply(tool_calls=[("lookup_price", {"sku": "ZZ"})]),
        FakeReply(final="ZZ is not a known product."),
    )
    outcome = tool_loop_run(vllm_client(fake_gptoss), REQUEST, {"lookup_price": broken})
    assert outcome.result.final == "ZZ is not a known product."
    second = harmony_encoding().decode_utf8(fake_gptoss.requests[1].body["prompt"])
    assert '{"error": "KeyError: \'ZZ\'"}' in second


def test_rounds_are_bounded(fake_gptoss):
    fake_gptoss.responder = lambda req: FakeReply(tool_calls=[("lookup_price", {"sku": "A1"})])
    with pytest.raises(LLMToolLoopExceeded, match="after 3 rounds"):
        tool_loop_run(
            vllm_client(fake_gptoss), REQUEST, {"lookup_price": lambda a: 1}, max_rounds=3
        )
    assert len(fake_gptoss.requests) == 3


def test_every_offered_tool_needs_a_callable():
    with pytest.raises(ValueError, match="no Python callable for tools: lookup_price"):
        tool_loop_run(None, REQUEST, {})  # type: ignore[arg-type]
