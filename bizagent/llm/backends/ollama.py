"""Ollama: ``/api/chat`` with ``think`` levels, tools and ``format``.

Ollama renders gpt-oss's Harmony itself from its chat template and parses the answer
back: the analysis channel arrives as ``thinking``, tool calls as ``tool_calls`` with
object arguments, the final channel as ``content``. A ``system`` message becomes the
developer instructions in its gpt-oss template, so the ``# Response Formats`` section
goes there too (and the schema also goes in ``format`` for constrained decoding).
``num_ctx`` is set explicitly: Ollama's small default would silently cut the prompt.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from bizagent.llm.backends.base import http_post_json
from bizagent.llm.errors import ErrorWhere, LLMMalformedOutput, LLMTruncatedOutput
from bizagent.llm.harmony import developer_instructions
from bizagent.llm.result import RawAnswer, RawToolCall, result_build, usage_billed, usage_ollama
from bizagent.llm.types import ChatRequest, ChatResult, HistoryMessage


def _assistant_entry(item: HistoryMessage) -> dict[str, Any]:
    if item.recipient and item.recipient.startswith("functions."):
        try:
            arguments = json.loads(item.content or "{}")
        except json.JSONDecodeError:
            arguments = {}
        return {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "function": {
                        "name": item.recipient.removeprefix("functions."),
                        "arguments": arguments,
                    }
                }
            ],
        }
    if item.channel == "analysis":
        return {"role": "assistant", "content": "", "thinking": item.content}
    return {"role": "assistant", "content": item.content}


def ollama_messages(request: ChatRequest) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": developer_instructions(request)}
    ]
    for item in request.history:
        if item.role == "user":
            messages.append({"role": "user", "content": item.content})
        elif item.role == "tool":
            messages.append({"role": "tool", "content": item.content, "tool_name": item.name})
        else:
            entry = _assistant_entry(item)
            previous = messages[-1]
            # One assistant turn may hold thinking, tool calls and content: merge them.
            if previous["role"] == "assistant" and "tool_calls" not in previous:
                for key, value in entry.items():
                    if key == "content" and previous.get("content"):
                        continue
                    previous[key] = value
            else:
                messages.append(entry)
    if request.user is not None:
        messages.append({"role": "user", "content": request.user})
    return messages


class OllamaBackend:
    name = "ollama"

    def __init__(self, *, base_url: str, model: str, context_tokens: int) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.context_tokens = context_tokens
        self.session = requests.Session()

    @property
    def url(self) -> str:
        return f"{self.base_url}/api/chat"

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": ollama_messages(request),
            "stream": False,
            "think": request.reasoning,
            "options": {
                "num_ctx": self.context_tokens,
                "num_predict": request.max_tokens,
                "temperature": request.temperature,
            },
        }
        if request.tools:
            payload["tools"] = [
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
            payload["format"] = request.response_format.schema
        return payload

    def send(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        started = time.perf_counter()
        body = http_post_json(
            self.session, self.url, self.payload(request), timeout=timeout, model=self.model
        )
        latency_ms = (time.perf_counter() - started) * 1000
        where: ErrorWhere = {"url": self.url, "model": self.model}
        # Billed whatever follows: a truncated or unusable answer costs its tokens too.
        usage = usage_ollama(body)
        with usage_billed(usage):
            message = body.get("message")
            if not isinstance(message, dict) or body.get("done") is not True:
                raise LLMMalformedOutput(
                    f"no finished message in the answer: {str(body)[:200]}", **where
                )
            done_reason = body.get("done_reason") or "stop"
            if done_reason == "length":
                raise LLMTruncatedOutput(
                    f"stopped at num_predict={request.max_tokens} before the turn ended", **where
                )
            calls = []
            for index, call in enumerate(message.get("tool_calls") or []):
                function = (call or {}).get("function") or {}
                arguments = function.get("arguments", {})
                raw = (
                    arguments
                    if isinstance(arguments, str)
                    else json.dumps(arguments, ensure_ascii=False)
                )
                calls.append(
                    RawToolCall(
                        name=str(function.get("name", "")), arguments=raw, call_id=f"call_{index}"
                    )
                )
            answer = RawAnswer(
                final=str(message.get("content") or ""),
                analysis=str(message.get("thinking") or ""),
                commentary="",
                tool_calls=tuple(calls),
            )
            return result_build(
                request,
                answer,
                usage=usage,
                latency_ms=latency_ms,
                finish_reason=done_reason,
                backend=self.name,
                model=self.model,
                url=self.url,
            )
