"""llm-structured: schema-checked answers, one repair call, then a schema error."""

from __future__ import annotations

import json

import pytest

from tests.fake_gptoss import FakeReply
from tests.workflows.blockctx import BlockCtx, block_run
from workflows.blocks import block_get
from workflows.blocks.base import BlockConfigError, BlockModelError, BlockSchemaError

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["label", "confidence"],
    "properties": {
        "label": {"enum": ["refund", "bug"]},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
CONFIG = {
    "prompt": "Classify: {{ input.text }}",
    "instructions": "Label support tickets.",
    "schema": SCHEMA,
    "schema_name": "ticket",
}
GOOD = {"label": "bug", "confidence": 0.9}
BAD = {"label": "question", "confidence": 3}


def _run(fake, **kwargs):
    return block_run(
        "llm-structured",
        CONFIG,
        ctx=BlockCtx.for_fake(fake, **kwargs),
        scope={"input": {"text": "the app crashes"}},
    )


def test_a_fitting_answer_is_returned_parsed_in_one_call(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(analysis="think", final=json.dumps(GOOD)))
    result = _run(fake_gptoss)
    assert result.output == GOOD
    (request,) = fake_gptoss.requests
    # The schema is declared to the model as a Harmony response format.
    assert "# Response Formats\n\n## ticket" in request.prompt_text
    assert (result.prompt_tokens, result.completion_tokens) == fake_gptoss.usage_total()


def test_an_answer_in_a_code_fence_after_a_sentence_is_accepted(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final=f"Here it is:\n```json\n{json.dumps(GOOD)}\n```"))
    assert _run(fake_gptoss).output == GOOD
    assert len(fake_gptoss.requests) == 1


def test_one_repair_call_shows_the_model_what_was_wrong(fake_gptoss):
    fake_gptoss.enqueue(
        FakeReply(final=json.dumps(BAD)), FakeReply(analysis="fix it", final=json.dumps(GOOD))
    )
    result = _run(fake_gptoss)
    assert result.output == GOOD
    first, repair = fake_gptoss.requests
    assert "does not fit the required JSON Schema" in repair.prompt_text
    assert "$.confidence: 3 is greater than the maximum of 1" in repair.prompt_text
    assert "$.label: 'question' is not one of ['refund', 'bug']" in repair.prompt_text
    # The bad answer is shown back to the model, after the original question.
    assert repair.prompt_text.index("Classify: the app crashes") < repair.prompt_text.index(
        json.dumps(BAD)
    )
    # The repair keeps the instructions and schema byte for byte: the prefix is reused.
    head = first.prompt_text[: first.prompt_text.index("<|start|>user")]
    assert repair.prompt_text.startswith(head)
    # Both calls' tokens are counted.
    assert (result.prompt_tokens, result.completion_tokens) == fake_gptoss.usage_total()


def test_text_that_is_not_json_is_repaired_too(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final="It is a bug."), FakeReply(final=json.dumps(GOOD)))
    assert _run(fake_gptoss).output == GOOD
    assert "no JSON object found in the answer" in fake_gptoss.requests[1].prompt_text


def test_a_failed_repair_is_a_schema_error_listing_the_violations(fake_gptoss):
    fake_gptoss.enqueue(
        FakeReply(final=json.dumps(BAD)), FakeReply(final=json.dumps({"label": "refund"}))
    )
    with pytest.raises(BlockSchemaError) as caught:
        _run(fake_gptoss)
    assert str(caught.value) == (
        "the answer does not fit the schema 'ticket' after one repair: "
        "$: 'confidence' is a required property"
    )
    assert caught.value.error_class == "schema"
    assert len(fake_gptoss.requests) == 2  # exactly one repair


def test_a_truncated_answer_is_a_model_error_without_a_repair(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final=json.dumps(GOOD) * 20, truncate_at=8))
    with pytest.raises(BlockModelError, match="truncated"):
        _run(fake_gptoss)
    assert len(fake_gptoss.requests) == 1


def test_a_malformed_answer_is_a_model_error_without_a_repair(fake_gptoss):
    fake_gptoss.enqueue(FakeReply(failure="malformed_harmony"))
    with pytest.raises(BlockModelError, match="could not be parsed"):
        _run(fake_gptoss)
    assert len(fake_gptoss.requests) == 1


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_it_works_over_the_chat_backends(fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(final=json.dumps(BAD)), FakeReply(final=json.dumps(GOOD)))
    assert _run(fake_gptoss, backend=backend).output == GOOD


def test_an_invalid_schema_is_a_config_problem():
    block = block_get("llm-structured")
    (problem,) = block.config_problems({"prompt": "x", "schema": {"type": "nope"}})
    assert problem[0] == "schema" and problem[1].startswith("invalid JSON Schema: 'nope'")
    assert block.config_problems(CONFIG) == []


def test_the_schema_is_required():
    with pytest.raises(BlockConfigError, match="'schema' is a required property"):
        block_run("llm-structured", {"prompt": "x"})


def test_it_is_an_ai_block_that_can_be_a_tool():
    block = block_get("llm-structured")
    assert block.category == "ai" and block.can_be_tool and not block.side_effects
