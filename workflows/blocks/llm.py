"""``llm``: one prompt to gpt-oss through ``ctx.llm``; the final channel's text comes back.

The step's fixed ``instructions`` go in the developer message and the per-call
``prompt`` in the user message, so calls of the same step share a prompt prefix the
server can cache. Model failures become classified block errors
(``block_error_from_llm``, shared with the other model-calling blocks).
"""

from __future__ import annotations

import json
from typing import Any

from bizagent.llm.errors import (
    LLMError,
    LLMMalformedOutput,
    LLMSchemaViolation,
    LLMServerError,
    LLMTimeout,
    LLMTruncatedOutput,
    LLMUnknownTool,
    LLMUnreachable,
)
from bizagent.llm.types import ChatRequest, ChatResult
from workflows.blocks.base import (
    Block,
    BlockContext,
    BlockError,
    BlockModelError,
    BlockResult,
    BlockTimeout,
    BlockUpstreamError,
    block_register,
)

REASONING_LEVELS = ("low", "medium", "high")
MAX_TOKENS_LIMIT = 32_768

#: The model settings every model-calling block shares (``llm`` and ``llm-structured``).
LLM_CONFIG_PROPERTIES: dict[str, Any] = {
    "prompt": {
        "type": "string",
        "minLength": 1,
        "description": (
            "What to ask, usually with templates such as {{ input.question }}; it is sent "
            "as the user message, after the instructions."
        ),
    },
    "instructions": {
        "type": "string",
        "default": "",
        "description": (
            "Fixed guidance for the model (its role, rules, the answer's form); keep it free "
            "of per-run data so calls share a cacheable prefix."
        ),
    },
    "reasoning": {
        "type": "string",
        "enum": list(REASONING_LEVELS),
        "default": "medium",
        "description": "How much the model thinks before answering.",
    },
    "max_tokens": {
        "type": "integer",
        "minimum": 16,
        "maximum": MAX_TOKENS_LIMIT,
        "default": 2048,
        "description": "The most tokens the model may generate (thinking included).",
    },
    "temperature": {
        "type": "number",
        "minimum": 0,
        "maximum": 2,
        "default": 1.0,
        "description": "Sampling temperature; gpt-oss is tuned for 1.0.",
    },
}


class BlockModelRefused(BlockError):
    """The model server refused the request itself (a 4xx): sending it again will not help."""

    error_class = "upstream_refused"


def block_error_from_llm(exc: LLMError) -> BlockError:
    """The block error for a classified model failure (its message kept, secrets redacted).

    Unreachable and 5xx/429 become ``upstream`` and a timeout ``timeout`` (both retryable);
    an answer that cannot be used (malformed, truncated, off-schema, an unknown tool)
    becomes ``model``; a request the server refuses (4xx) or a misconfigured client is
    not retryable.
    """
    message = str(exc)
    error: BlockError
    if isinstance(exc, LLMTimeout):
        error = BlockTimeout(message)
    elif isinstance(exc, LLMUnreachable):
        error = BlockUpstreamError(message)
    elif isinstance(exc, LLMServerError):
        error = BlockUpstreamError(message) if exc.retryable else BlockModelRefused(message)
    elif isinstance(
        exc, LLMMalformedOutput | LLMTruncatedOutput | LLMSchemaViolation | LLMUnknownTool
    ):
        error = BlockModelError(message)
    else:
        error = BlockError(message)
    return error


def prompt_text(value: Any) -> str:
    """A prompt value as text: a template that resolved to an object is sent as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def chat_request(config: dict[str, Any], **extra: Any) -> ChatRequest:
    """The request for a model-calling block's config: instructions first, prompt last."""
    return ChatRequest(
        instructions=prompt_text(config.get("instructions") or ""),
        user=prompt_text(config["prompt"]),
        reasoning=config.get("reasoning", "medium"),
        max_tokens=int(config.get("max_tokens", 2048)),
        temperature=float(config.get("temperature", 1.0)),
        **extra,
    )


def chat_complete(
    ctx: BlockContext, request: ChatRequest, *, keep: tuple[type[LLMError], ...] = ()
) -> ChatResult:
    """One model call through the context's client; failures as block errors.

    Errors of the ``keep`` classes are raised as they are, for a caller that handles
    them itself (llm-structured repairs an off-schema answer).
    """
    if ctx.seconds_left() <= 0:
        raise BlockTimeout("no time left for a model call before the step's timeout")
    try:
        return ctx.llm.complete(request)
    except keep:
        raise
    except LLMError as exc:
        raise block_error_from_llm(exc) from exc


@block_register
class Llm(Block):
    slug = "llm"
    name = "Language model"
    category = "ai"
    description = (
        "Sends a prompt (with fixed instructions) to the language model and returns the "
        "text of its final answer."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["prompt"],
        "properties": LLM_CONFIG_PROPERTIES,
    }
    input_schema = {
        "type": "object",
        "description": (
            "An agent's arguments when it calls this step as a tool, read in the config as {{ "
            "input.<name> }}; the step's input_schema names them."
        ),
    }
    output_schema = {
        "type": "object",
        "required": ["text", "finish_reason"],
        "properties": {
            "text": {
                "type": "string",
                "description": "The model's final answer (never its private reasoning).",
            },
            "finish_reason": {
                "type": "string",
                "description": "Why the model stopped (stop when it finished its answer).",
            },
        },
    }
    side_effects = False
    can_be_tool = True
    prompt_keys = ("prompt", "instructions")

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        result = chat_complete(ctx, chat_request(config))
        return BlockResult(
            output={"text": result.final, "finish_reason": result.finish_reason},
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
        )
