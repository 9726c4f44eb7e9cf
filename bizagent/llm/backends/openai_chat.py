"""Any OpenAI-compatible ``/v1/chat/completions`` server (vLLM's chat route, llama.cpp, LM Studio…).

The server renders and parses Harmony; reasoning comes back as ``reasoning_content`` or
``reasoning`` depending on the server, so we read both. We use the official ``openai``
SDK with its own retries off: retrying is the client's job, with one policy for all
backends.
"""

from __future__ import annotations

import json
import time
from typing import Any

import openai

from bizagent.llm.backends.base import connection_refused
from bizagent.llm.errors import (
    ErrorWhere,
    LLMMalformedOutput,
    LLMServerError,
    LLMTimeout,
    LLMTruncatedOutput,
    LLMUnreachable,
)
from bizagent.llm.harmony import developer_instructions
from bizagent.llm.result import RawAnswer, RawToolCall, result_build, usage_billed, usage_openai
from bizagent.llm.types import ChatRequest, ChatResult, HistoryMessage

REASONING_FIELDS = ("reasoning_content", "reasoning")


def _assistant_entry(item: HistoryMessage) -> dict[str, Any]:
    if item.recipient and item.recipient.startswith("functions."):
        return {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": item.call_id or "call_0",
                    "type": "function",
                    "function": {
                        "name": item.recipient.removeprefix("functions."),
                        "arguments": item.content,
                    },
                }
            ],
        }
    if item.channel == "analysis":
        return {"role": "assistant", "content": None, "reasoning_content": item.content}
    return {"role": "assistant", "content": item.content}


def chat_messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": developer_instructions(request)}
    ]
    for item in request.history:
        if item.role == "user":
            messages.append({"role": "user", "content": item.content})
        elif item.role == "tool":
            messages.append(
                {"role": "tool", "content": item.content, "tool_call_id": item.call_id or "call_0"}
            )
        else:
            messages.append(_assistant_entry(item))
    if request.user is not None:
        messages.append({"role": "user", "content": request.user})
    return messages


class OpenAIChatBackend:
    name = "openai"

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.client = openai.OpenAI(
            base_url=self.base_url,
            # Local servers ignore the key, but the SDK insists on one.
            api_key=api_key or "not-needed",
            max_retries=0,
        )

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def arguments(self, request: ChatRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "reasoning_effort": request.reasoning,
        }
        if request.tools:
            arguments["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.name,
                        "description": tool.description,
                        "parameters": tool.parameters,
                    },
                }
                for tool in request.tools
            ]
        if request.response_format is not None:
            arguments["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": request.response_format.name,
                    "schema": request.response_format.schema,
                },
            }
        return arguments

    def send(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        where: ErrorWhere = {"url": self.url, "model": self.model}
        started = time.perf_counter()
        try:
            raw = self.client.chat.completions.with_raw_response.create(
                **self.arguments(request), timeout=timeout
            )
            body = json.loads(raw.http_response.text)
        except openai.APITimeoutError as exc:
            raise LLMTimeout(f"no answer within {timeout:g}s", **where) from exc
        except openai.APIConnectionError as exc:
            cause = exc.__cause__
            refused = connection_refused(exc)
            if refused:
                raise LLMUnreachable(refused, **where) from exc
            raise LLMServerError(
                f"the connection dropped before a full answer ({cause or exc})", **where
            ) from exc
        except openai.APIStatusError as exc:
            raise LLMServerError(
                f"HTTP {exc.status_code}: {_status_message(exc)}", status=exc.status_code, **where
            ) from exc
        except (ValueError, openai.APIResponseValidationError) as exc:
            raise LLMMalformedOutput(f"the answer is not JSON ({exc})", **where) from exc
        latency_ms = (time.perf_counter() - started) * 1000
        # Billed whatever follows: a truncated or unusable answer costs its tokens too.
        usage = usage_openai(body)
        with usage_billed(usage):
            try:
                choice = body["choices"][0]
                message = choice["message"]
                finish_reason = choice.get("finish_reason") or "stop"
            except (KeyError, IndexError, TypeError) as exc:
                raise LLMMalformedOutput(
                    f"no choices in the answer: {str(body)[:200]}", **where
                ) from exc
            if finish_reason == "length":
                raise LLMTruncatedOutput(
                    f"stopped at max_tokens={request.max_tokens} before the turn ended", **where
                )
            analysis = next((message[f] for f in REASONING_FIELDS if message.get(f)), "")
            calls = tuple(
                RawToolCall(
                    name=str((call.get("function") or {}).get("name", "")),
                    arguments=str((call.get("function") or {}).get("arguments") or ""),
                    call_id=str(call.get("id") or f"call_{index}"),
                )
                for index, call in enumerate(message.get("tool_calls") or [])
            )
            return result_build(
                request,
                RawAnswer(
                    final=str(message.get("content") or ""),
                    analysis=str(analysis),
                    commentary="",
                    tool_calls=calls,
                ),
                usage=usage,
                latency_ms=latency_ms,
                finish_reason=finish_reason,
                backend=self.name,
                model=self.model,
                url=self.url,
            )


def _status_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or body.get("error") or body
        if isinstance(message, dict):
            message = message.get("message", message)
        return str(message)[:300]
    return str(exc.message)[:300]
