"""Every backend, end to end over HTTP against the fake gpt-oss server on loopback.

The fake speaks each server's wire protocol and answers with genuine Harmony token
streams; each failure class is injected at the socket or protocol level.
"""

from __future__ import annotations

import socket

import pytest

from bizagent.llm.errors import (
    LLMMalformedOutput,
    LLMSchemaViolation,
    LLMServerError,
    LLMTimeout,
    LLMTruncatedOutput,
    LLMUnknownTool,
    LLMUnreachable,
)
from bizagent.llm.harmony import harmony_render, harmony_stop_token_ids
from bizagent.llm.types import ChatRequest, HistoryMessage, ResponseFormat, ToolSpec
from tests.fake_gptoss import FakeReply
from tests.llm_backends import BACKENDS, MODELS, fake_client, llm_client_build

WEATHER = ToolSpec(
    "get_weather",
    "Gets the current weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
IDEA = ResponseFormat(
    name="idea",
    description="One business idea.",
    schema={
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "integer", "maximum": 10}},
        "required": ["title", "score"],
    },
)


def request(**overrides) -> ChatRequest:
    values = {"instructions": "You are a careful business analyst.", "user": "Say hello."}
    values.update(overrides)
    return ChatRequest(**values)


@pytest.mark.parametrize("backend", BACKENDS)
def test_final_and_analysis_come_back_apart(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(analysis="The user wants a greeting.", final="Hello!"))
    result = fake_client(fake_gptoss, backend).complete(request())
    assert result.final == "Hello!"
    assert result.analysis == "The user wants a greeting."
    assert result.backend == backend and result.model == MODELS[backend]
    assert result.usage.prompt_tokens > 0 and result.usage.completion_tokens > 0
    assert result.latency_ms > 0
    assert result.tool_calls == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_tool_call_is_parsed_and_validated(fake_gptoss, backend):
    fake_gptoss.enqueue(
        FakeReply(analysis="Need weather.", tool_calls=[("get_weather", {"city": "Tokyo"})])
    )
    result = fake_client(fake_gptoss, backend).complete(request(tools=(WEATHER,)))
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"city": "Tokyo"})
    ]


@pytest.mark.parametrize("backend", BACKENDS)
def test_structured_output_is_validated(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(final='```json\n{"title": "Mochi box", "score": 7}\n```'))
    result = fake_client(fake_gptoss, backend).complete(request(response_format=IDEA))
    assert result.parsed == {"title": "Mochi box", "score": 7}


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_names_the_server_and_model(backend):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port once the socket is closed.
    base = f"http://127.0.0.1:{port}" + ("" if backend == "ollama" else "/v1")
    client = llm_client_build(backend=backend, base_url=base, timeout=5, context_tokens=8192)
    with pytest.raises(LLMUnreachable) as info:
        client.complete(request())
    message = str(info.value)
    assert f"127.0.0.1:{port}" in message and MODELS[backend] in message
    assert "connection refused" in message
    assert info.value.error_class == "unreachable"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_dropped_connection_is_a_server_error(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(failure="unreachable"))
    with pytest.raises(LLMServerError, match="connection dropped") as info:
        fake_client(fake_gptoss, backend).complete(request())
    assert info.value.retryable


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_slow_answer_times_out(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(final="late", failure="slow", delay=3.0))
    with pytest.raises(LLMTimeout, match=r"no answer within 0\.5s"):
        fake_client(fake_gptoss, backend, timeout=0.5).complete(request())


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_server_error_carries_status_and_message(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(failure="server_error"))
    with pytest.raises(LLMServerError, match="HTTP 500") as info:
        fake_client(fake_gptoss, backend).complete(request())
    assert info.value.status == 500 and info.value.retryable


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_client_error_is_not_retried(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(failure="status:400"), FakeReply(final="should not be reached"))
    with pytest.raises(LLMServerError, match="HTTP 400"):
        fake_client(fake_gptoss, backend, retries=3).complete(request())
    assert len(fake_gptoss.requests) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_transient_failures_are_retried_over_http(fake_gptoss, backend):
    fake_gptoss.enqueue(
        FakeReply(failure="status:503"),
        FakeReply(failure="unreachable"),
        FakeReply(final="third time"),
    )
    result = fake_client(fake_gptoss, backend, retries=3).complete(request())
    assert result.final == "third time" and result.attempts == 3
    assert len(fake_gptoss.requests) == 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_body_that_is_not_json_is_malformed(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(failure="malformed_json"))
    with pytest.raises(LLMMalformedOutput, match="not JSON"):
        fake_client(fake_gptoss, backend).complete(request())


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_answer_missing_its_fields_is_malformed(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(failure="missing_fields"))
    with pytest.raises(LLMMalformedOutput):
        fake_client(fake_gptoss, backend).complete(request())


def test_vllm_tokens_that_are_not_harmony_are_malformed(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(failure="malformed_harmony"))
    with pytest.raises(LLMMalformedOutput, match="Harmony"):
        fake_client(fake_gptoss, "vllm").complete(request())


@pytest.mark.parametrize("backend", BACKENDS)
def test_hitting_max_tokens_is_truncated_output(fake_gptoss, backend):
    fake_gptoss.enqueue(
        FakeReply(analysis="long " * 200, final="never finished", failure="truncate")
    )
    with pytest.raises(LLMTruncatedOutput, match=r"max_tokens|num_predict") as info:
        fake_client(fake_gptoss, backend).complete(request(max_tokens=32))
    assert not info.value.retryable


@pytest.mark.parametrize("backend", BACKENDS)
def test_structured_output_breaking_its_schema_is_a_schema_violation(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(final='{"title": "x", "score": 99}'))
    with pytest.raises(LLMSchemaViolation, match="99 is greater than the maximum of 10") as info:
        fake_client(fake_gptoss, backend).complete(request(response_format=IDEA))
    assert '"score": 99' in info.value.raw


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_call_to_a_tool_not_offered_is_refused(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(tool_calls=[("drop_database", {})]))
    with pytest.raises(LLMUnknownTool, match="drop_database"):
        fake_client(fake_gptoss, backend).complete(request(tools=(WEATHER,)))


def test_vllm_gets_harmony_token_ids_with_special_tokens_kept(fake_gptoss):
    chat = request(tools=(WEATHER,), response_format=IDEA, max_tokens=777, reasoning="high")
    fake_gptoss.enqueue(FakeReply(final='{"title": "t", "score": 1}'))
    fake_client(fake_gptoss, "vllm").complete(chat)
    sent = fake_gptoss.requests[-1]
    assert sent.path == "/v1/completions"
    body = sent.body
    assert body["prompt"] == harmony_render(chat)
    assert body["skip_special_tokens"] is False
    assert body["return_token_ids"] is True
    assert sorted(body["stop_token_ids"]) == sorted(harmony_stop_token_ids()) == [200002, 200012]
    assert body["max_tokens"] == 777 and body["model"] == "openai/gpt-oss-20b"


def test_ollama_gets_think_level_tools_format_and_num_ctx(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final='{"title": "t", "score": 1}'))
    chat = request(tools=(WEATHER,), response_format=IDEA, reasoning="low", max_tokens=300)
    fake_client(fake_gptoss, "ollama").complete(chat)
    body = fake_gptoss.requests[-1].body
    assert fake_gptoss.requests[-1].path == "/api/chat"
    assert body["think"] == "low" and body["stream"] is False
    assert body["options"]["num_ctx"] == 16384 and body["options"]["num_predict"] == 300
    assert body["format"] == IDEA.schema
    assert body["tools"][0]["function"]["name"] == "get_weather"
    assert body["messages"][0]["role"] == "system"
    assert "# Response Formats" in body["messages"][0]["content"]


def test_openai_gets_reasoning_effort_and_a_json_schema_response_format(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final='{"title": "t", "score": 1}'))
    fake_client(fake_gptoss, "openai").complete(request(response_format=IDEA, reasoning="medium"))
    sent = fake_gptoss.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["reasoning_effort"] == "medium"
    assert sent.body["response_format"]["json_schema"]["schema"] == IDEA.schema


@pytest.mark.parametrize("backend", BACKENDS)
def test_history_with_a_tool_round_is_sent_in_each_protocol(fake_gptoss, backend):
    history = (
        HistoryMessage(role="user", content="Weather in Tokyo?"),
        HistoryMessage(role="assistant", channel="analysis", content="Call the tool."),
        HistoryMessage(
            role="assistant",
            channel="commentary",
            recipient="functions.get_weather",
            content_type="<|constrain|>json",
            content='{"city": "Tokyo"}',
            call_id="call_0",
        ),
        HistoryMessage(
            role="tool", name="get_weather", content='{"sunny": true}', call_id="call_0"
        ),
    )
    fake_gptoss.enqueue(FakeReply(final="Sunny in Tokyo."))
    result = fake_client(fake_gptoss, backend).complete(
        request(user=None, history=history, tools=(WEATHER,))
    )
    assert result.final == "Sunny in Tokyo."
    prompt = fake_gptoss.requests[-1].prompt_text
    assert '{"sunny": true}' in prompt
