"""Parsing realistic gpt-oss completions (Harmony tokens) into checked results."""

from __future__ import annotations

import pytest

from bizagent.llm.errors import LLMMalformedOutput, LLMSchemaViolation, LLMUnknownTool
from bizagent.llm.harmony import harmony_encoding, harmony_parse
from bizagent.llm.result import answer_from_harmony, result_build
from bizagent.llm.types import ChatRequest, ResponseFormat, ToolSpec, Usage

WEATHER = ToolSpec(
    "get_weather",
    "Gets the weather",
    {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
)
SCORE = ResponseFormat(
    name="score",
    schema={
        "type": "object",
        "properties": {"score": {"type": "integer"}},
        "required": ["score"],
    },
)


def parse(completion: str, request: ChatRequest):
    tokens = harmony_encoding().encode(completion, allowed_special="all")
    answer = answer_from_harmony(harmony_parse(tokens))
    return result_build(
        request,
        answer,
        usage=Usage(10, len(tokens)),
        latency_ms=1.0,
        finish_reason="stop",
        backend="vllm",
        model="m",
        url="http://127.0.0.1:9/v1/completions",
    )


def test_analysis_and_final_are_kept_apart():
    result = parse(
        "<|channel|>analysis<|message|>User asks 2+2. Simple.<|end|>"
        "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|return|>",
        ChatRequest(instructions="x"),
    )
    assert result.final == "2 + 2 = 4."
    assert result.analysis == "User asks 2+2. Simple."
    assert result.tool_calls == []


def test_a_tool_call_with_recipient_in_the_channel_section_is_parsed_and_validated():
    result = parse(
        "<|channel|>analysis<|message|>Need weather.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"location":"Tokyo"}<|call|>',
        ChatRequest(instructions="x", tools=(WEATHER,)),
    )
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"location": "Tokyo"})
    ]
    assert result.analysis == "Need weather."


def test_a_preamble_on_commentary_is_kept_apart_from_the_call():
    result = parse(
        "<|channel|>commentary<|message|>**Plan**: check the weather.<|end|>"
        "<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json"
        '<|message|>{"location":"Osaka"}<|call|>',
        ChatRequest(instructions="x", tools=(WEATHER,)),
    )
    assert result.commentary == "**Plan**: check the weather."
    assert result.tool_calls[0].arguments == {"location": "Osaka"}


def test_tool_arguments_that_break_the_schema_are_a_schema_violation():
    with pytest.raises(LLMSchemaViolation, match=r"get_weather.*'location' is a required") as info:
        parse(
            "<|channel|>commentary to=functions.get_weather <|constrain|>json"
            '<|message|>{"city":"Tokyo"}<|call|>',
            ChatRequest(instructions="x", tools=(WEATHER,)),
        )
    # An agent loop answers the call with the error, so it needs the call back.
    assert (info.value.tool, info.value.raw) == ("get_weather", '{"city":"Tokyo"}')


def test_tool_arguments_that_are_not_json_are_malformed():
    with pytest.raises(LLMMalformedOutput, match="not JSON"):
        parse(
            "<|channel|>commentary to=functions.get_weather <|constrain|>json"
            "<|message|>{location: Tokyo<|call|>",
            ChatRequest(instructions="x", tools=(WEATHER,)),
        )


def test_a_call_to_a_tool_not_offered_is_an_unknown_tool():
    with pytest.raises(
        LLMUnknownTool, match=r"'delete_everything'; tools offered: get_weather"
    ) as info:
        parse(
            "<|channel|>commentary to=functions.delete_everything <|constrain|>json"
            '<|message|>{"all":true}<|call|>',
            ChatRequest(instructions="x", tools=(WEATHER,)),
        )
    assert (info.value.tool, info.value.raw) == ("delete_everything", '{"all":true}')


def test_structured_output_in_a_fence_after_a_preamble_is_accepted():
    result = parse(
        "<|channel|>analysis<|message|>Score it.<|end|>"
        '<|start|>assistant<|channel|>final<|message|>Here you go:\n```json\n{"score": 8}\n```'
        "<|return|>",
        ChatRequest(instructions="x", response_format=SCORE),
    )
    assert result.parsed == {"score": 8}


def test_structured_output_sent_on_commentary_is_found():
    result = parse(
        '<|channel|>commentary<|message|>{"score": 3}<|end|>'
        "<|start|>assistant<|channel|>final<|message|>Done.<|return|>",
        ChatRequest(instructions="x", response_format=SCORE),
    )
    assert result.parsed == {"score": 3}


def test_structured_output_that_breaks_the_schema_keeps_the_raw_text():
    with pytest.raises(
        LLMSchemaViolation, match=r"score: \$\.score: 'high' is not of type"
    ) as info:
        parse(
            '<|channel|>final<|message|>{"score": "high"}<|return|>',
            ChatRequest(instructions="x", response_format=SCORE),
        )
    assert info.value.raw == '{"score": "high"}'
    assert info.value.error_class == "schema_violation"
    assert "http://127.0.0.1:9/v1/completions" in str(info.value)


def test_a_turn_without_a_final_answer_is_malformed():
    with pytest.raises(LLMMalformedOutput, match="without a final answer"):
        parse("<|channel|>analysis<|message|>thinking only<|end|>", ChatRequest(instructions="x"))
