"""Rendering against the Harmony format spec's worked examples (openai/harmony docs/format.md)."""

from __future__ import annotations

import datetime as dt

import pytest

from bizagent.llm.harmony import harmony_encoding, harmony_render
from bizagent.llm.types import ChatRequest, HistoryMessage, ResponseFormat, ToolSpec

SPEC_DATE = dt.date(2025, 6, 28)

SPEC_SYSTEM = (
    "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
    "Knowledge cutoff: 2024-06\n"
    "Current date: 2025-06-28\n\n"
    "Reasoning: high\n\n"
    "# Valid channels: analysis, commentary, final. Channel must be included for every message.\n"
    "Calls to these tools must go to the commentary channel: 'functions'.<|end|>"
)

SPEC_DEVELOPER_WITH_TOOLS = (
    "<|start|>developer<|message|># Instructions\n\n"
    "Use a friendly tone.\n\n"
    "# Tools\n\n"
    "## functions\n\n"
    "namespace functions {\n\n"
    "// Gets the location of the user.\n"
    "type get_location = () => any;\n\n"
    "// Gets the current weather in the provided location.\n"
    "type get_current_weather = (_: {\n"
    "// The city and state, e.g. San Francisco, CA\n"
    "location: string,\n"
    'format?: "celsius" | "fahrenheit", // default: celsius\n'
    "}) => any;\n\n"
    "// Gets the current weather in the provided list of locations.\n"
    "type get_multiple_weathers = (_: {\n"
    '// List of city and state, e.g. ["San Francisco, CA", "New York, NY"]\n'
    "locations: string[],\n"
    'format?: "celsius" | "fahrenheit", // default: celsius\n'
    "}) => any;\n\n"
    "} // namespace functions<|end|>"
)

FORMAT = {
    "type": "string",
    "enum": ["celsius", "fahrenheit"],
    "default": "celsius",
}
SPEC_TOOLS = (
    ToolSpec(
        "get_location", "Gets the location of the user.", {"type": "object", "properties": {}}
    ),
    ToolSpec(
        "get_current_weather",
        "Gets the current weather in the provided location.",
        {
            "type": "object",
            "properties": {
                "location": {
                    "type": "string",
                    "description": "The city and state, e.g. San Francisco, CA",
                },
                "format": FORMAT,
            },
            "required": ["location"],
        },
    ),
    ToolSpec(
        "get_multiple_weathers",
        "Gets the current weather in the provided list of locations.",
        {
            "type": "object",
            "properties": {
                "locations": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "List of city and state, e.g. "
                    '["San Francisco, CA", "New York, NY"]',
                },
                "format": FORMAT,
            },
            "required": ["locations"],
        },
    ),
)


def text_of(request: ChatRequest) -> str:
    return harmony_encoding().decode_utf8(harmony_render(request))


def spec_request(**overrides) -> ChatRequest:
    values = {
        "instructions": "Use a friendly tone.",
        "user": "What is the weather like in SF?",
        "tools": SPEC_TOOLS,
        "reasoning": "high",
        "conversation_date": SPEC_DATE,
    }
    values.update(overrides)
    return ChatRequest(**values)


def test_it_renders_the_spec_function_calling_input_exactly():
    expected = (
        SPEC_SYSTEM
        + SPEC_DEVELOPER_WITH_TOOLS
        + "<|start|>user<|message|>What is the weather like in SF?<|end|><|start|>assistant"
    )
    assert text_of(spec_request()) == expected


def test_tool_call_and_tool_result_use_the_documented_headers():
    history = (
        HistoryMessage(role="user", content="What is the weather like in SF?"),
        HistoryMessage(
            role="assistant", channel="analysis", content="Need to use function get_weather."
        ),
        HistoryMessage(
            role="assistant",
            channel="commentary",
            recipient="functions.get_current_weather",
            content_type="<|constrain|>json",
            content='{"location":"San Francisco"}',
        ),
        HistoryMessage(
            role="tool", name="get_current_weather", content='{"sunny": true, "temperature": 20}'
        ),
    )
    text = text_of(spec_request(user=None, history=history))
    # The turn in progress keeps its chain of thought, the call and the result.
    assert text.endswith(
        "<|start|>user<|message|>What is the weather like in SF?<|end|>"
        "<|start|>assistant<|channel|>analysis<|message|>Need to use function get_weather.<|end|>"
        "<|start|>assistant to=functions.get_current_weather<|channel|>commentary <|constrain|>json"
        '<|message|>{"location":"San Francisco"}<|call|>'
        "<|start|>functions.get_current_weather to=assistant<|channel|>commentary"
        '<|message|>{"sunny": true, "temperature": 20}<|end|><|start|>assistant'
    )


def test_finished_turns_keep_only_their_final_message():
    history = (
        HistoryMessage(role="user", content="What is 2 + 2?"),
        HistoryMessage(
            role="assistant",
            channel="analysis",
            content='User asks: "What is 2 + 2?" Simple arithmetic. Provide answer.',
        ),
        HistoryMessage(role="assistant", channel="final", content="2 + 2 = 4."),
    )
    text = text_of(ChatRequest(instructions="x", history=history, user="What about 9 / 2?"))
    assert "Simple arithmetic" not in text
    assert text.endswith(
        "<|start|>user<|message|>What is 2 + 2?<|end|>"
        "<|start|>assistant<|channel|>final<|message|>2 + 2 = 4.<|end|>"
        "<|start|>user<|message|>What about 9 / 2?<|end|><|start|>assistant"
    )


def test_response_format_follows_the_spec_structure():
    request = ChatRequest(
        instructions="You are a helpful shopping assistant",
        user="I need to buy coffee, soda and eggs",
        response_format=ResponseFormat(
            name="shopping_list",
            description="A list of things to buy",
            schema={
                "properties": {
                    "items": {
                        "type": "array",
                        "description": "entries on the shopping list",
                        "items": {"type": "string"},
                    }
                },
                "type": "object",
            },
        ),
        conversation_date=SPEC_DATE,
    )
    # The spec's own example has a typo (a "Reasoning: high" line where the format name
    # belongs); this is its documented template: "## {name}\n\n// {description}\n{schema}".
    assert (
        "<|start|>developer<|message|># Instructions\n\nYou are a helpful shopping assistant\n\n"
        "# Response Formats\n\n## shopping_list\n\n// A list of things to buy\n"
        '{"properties":{"items":{"type":"array","description":"entries on the shopping list",'
        '"items":{"type":"string"}}},"type":"object"}<|end|>'
        "<|start|>user<|message|>I need to buy coffee, soda and eggs<|end|><|start|>assistant"
    ) in text_of(request)


def test_response_format_goes_at_the_end_of_the_developer_message_after_tools():
    request = spec_request(
        response_format=ResponseFormat(name="weather", schema={"type": "object"}, description="W")
    )
    text = text_of(request)
    developer = text[text.index("<|start|>developer") : text.index("<|start|>user")]
    assert developer.index("# Tools") < developer.index("# Response Formats")
    assert developer.endswith(
        "} // namespace functions\n\n# Response Formats\n\n## weather\n\n// W\n"
        '{"type":"object"}<|end|>'
    )
    # The appended section is encoded with the developer text as one piece (no seam).
    enc = harmony_encoding()
    tokens = harmony_render(request)
    start = enc.encode("<|start|>developer<|message|>", allowed_special="all")
    dev_at = next(i for i in range(len(tokens)) if tokens[i : i + len(start)] == start)
    content = tokens[
        dev_at + len(start) : tokens.index(enc.encode("<|end|>", allowed_special="all")[0], dev_at)
    ]
    assert content == enc.encode(enc.decode_utf8(content), allowed_special=set())


@pytest.mark.parametrize(
    ("level", "line"), [("low", "Reasoning: low"), ("medium", "Reasoning: medium")]
)
def test_reasoning_effort_is_chosen_per_call(level, line):
    assert line in text_of(spec_request(reasoning=level))


def test_the_same_role_renders_a_byte_identical_prefix():
    first = harmony_render(spec_request(user="first task: the full text of idea 1"))
    second = harmony_render(spec_request(user="second task, quite different"))
    shared = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        shared += 1
    developer_end = harmony_encoding().decode_utf8(first[:shared])
    assert developer_end.endswith("} // namespace functions<|end|><|start|>user<|message|>")
