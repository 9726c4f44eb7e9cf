"""``llm-structured``: a prompt whose answer must fit a JSON Schema given in the config.

The schema is declared to gpt-oss as a Harmony response format and the answer is checked
with ``bizagent.llm.structured``. An answer that does not fit gets exactly one repair
call, which shows the model its answer and every violation; a second miss is a
``BlockSchemaError`` listing them. Truncated or malformed answers are model errors, not
repaired: the same budget would truncate the repair too.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bizagent.llm.errors import LLMSchemaViolation
from bizagent.llm.structured import schema_check
from bizagent.llm.types import ChatRequest, ChatResult, HistoryMessage, ResponseFormat, Usage
from workflows.blocks.base import (
    Block,
    BlockContext,
    BlockResult,
    BlockSchemaError,
    block_register,
)
from workflows.blocks.llm import LLM_CONFIG_PROPERTIES, chat_complete, chat_request
from workflows.templates import harmony_neutralise

FORMAT_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"

REPAIR_PROMPT = (
    "Your previous answer does not fit the required JSON Schema:\n{violations}\n"
    "Answer again with only a JSON value that fits the schema, nothing else."
)


def _violations(exc: LLMSchemaViolation) -> str:
    # The error's detail is "<format name>: <violation>; <violation>…".
    return exc.detail.split(": ", 1)[1] if ": " in exc.detail else exc.detail


@block_register
class LlmStructured(Block):
    slug = "llm-structured"
    name = "Language model (structured)"
    category = "ai"
    description = (
        "Asks the language model for an answer that fits a JSON Schema, repairs one "
        "answer that does not, and returns the parsed object."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["prompt", "schema"],
        "properties": {
            **LLM_CONFIG_PROPERTIES,
            "schema": {
                "type": "object",
                "description": (
                    "The JSON Schema (draft 2020-12) the answer must fit, e.g. "
                    '{"type": "object", "properties": {"label": {"enum": ["a", "b"]}}, '
                    '"required": ["label"]}.'
                ),
            },
            "schema_name": {
                "type": "string",
                "pattern": FORMAT_NAME,
                "default": "answer",
                "description": "The name the schema is declared to the model under.",
            },
        },
    }
    input_schema = {
        "type": "object",
        "description": (
            "An agent's arguments when it calls this step as a tool, read in the config as {{ "
            "input.<name> }}; the step's input_schema names them."
        ),
    }
    output_schema = {
        "description": "The parsed answer, which fits the config's schema.",
    }
    side_effects = False
    can_be_tool = True
    prompt_keys = ("prompt", "instructions")

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        schema = config.get("schema")
        if not isinstance(schema, dict):
            return []
        try:
            schema_check(schema)
        except ValueError as exc:
            return [("schema", str(exc))]
        return []

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        response_format = ResponseFormat(
            name=config.get("schema_name", "answer"), schema=config["schema"]
        )
        request = chat_request(config, response_format=response_format)
        outcome = _complete(ctx, request)
        spent = Usage()
        if isinstance(outcome, LLMSchemaViolation):
            spent = outcome.usage or Usage()
            outcome = _complete(ctx, _repair_request(request, outcome))
            if isinstance(outcome, LLMSchemaViolation):
                raise BlockSchemaError(
                    f"the answer does not fit the schema {response_format.name!r} after one "
                    f"repair: {_violations(outcome)}"
                )
        usage = spent + outcome.usage
        return BlockResult(
            output=outcome.parsed,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )


def _complete(ctx: BlockContext, request: ChatRequest) -> ChatResult | LLMSchemaViolation:
    """One call; an off-schema answer is returned (to repair), other failures raised."""
    try:
        return chat_complete(ctx, request, keep=(LLMSchemaViolation,))
    except LLMSchemaViolation as exc:
        return exc


def _repair_request(request: ChatRequest, violation: LLMSchemaViolation) -> ChatRequest:
    """The same request with the bad answer and what is wrong with it appended.

    The instructions and schema stay byte-identical, so the repair reuses the prefix.
    """
    history = (
        *request.history,
        HistoryMessage(role="user", content=request.user or ""),
        HistoryMessage(
            role="assistant", channel="final", content=harmony_neutralise(violation.raw)
        ),
    )
    return replace(
        request,
        history=history,
        user=REPAIR_PROMPT.format(violations=harmony_neutralise(_violations(violation))),
    )
