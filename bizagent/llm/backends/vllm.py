"""vLLM: we render Harmony ourselves and send token ids to ``/v1/completions``.

This is the most faithful path: the prompt is exactly the Harmony the model was trained
on, the server's prefix cache sees byte-identical prefixes, and we parse the completion
tokens (with special tokens kept: ``skip_special_tokens=false``, ``return_token_ids``)
client-side with openai-harmony. Needs vLLM >= 0.10.2 for ``return_token_ids``.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from openai_harmony import HarmonyError

from bizagent.llm.backends.base import http_post_json
from bizagent.llm.errors import ErrorWhere, LLMMalformedOutput, LLMTruncatedOutput
from bizagent.llm.harmony import (
    harmony_end_token_ids,
    harmony_parse,
    harmony_render,
    harmony_stop_token_ids,
)
from bizagent.llm.result import answer_from_harmony, result_build, usage_billed, usage_openai
from bizagent.llm.types import ChatRequest, ChatResult


class VllmBackend:
    name = "vllm"

    def __init__(self, *, base_url: str, model: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.session = requests.Session()
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else None

    @property
    def url(self) -> str:
        return f"{self.base_url}/completions"

    def payload(self, request: ChatRequest, prompt_ids: list[int]) -> dict[str, Any]:
        return {
            "model": self.model,
            "prompt": prompt_ids,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop_token_ids": harmony_stop_token_ids(),
            "skip_special_tokens": False,
            "return_token_ids": True,
        }

    def send(self, request: ChatRequest, *, timeout: float) -> ChatResult:
        prompt_ids = harmony_render(request)
        started = time.perf_counter()
        body = http_post_json(
            self.session,
            self.url,
            self.payload(request, prompt_ids),
            timeout=timeout,
            model=self.model,
            headers=self.headers,
        )
        latency_ms = (time.perf_counter() - started) * 1000
        where: ErrorWhere = {"url": self.url, "model": self.model}
        # Billed whatever follows: a truncated or unparseable answer costs its tokens too.
        usage = usage_openai(
            body, prompt_default=len(prompt_ids), completion_default=_completion_count(body)
        )
        with usage_billed(usage):
            try:
                choice = body["choices"][0]
                finish_reason = choice.get("finish_reason") or "stop"
            except (KeyError, IndexError, TypeError, AttributeError) as exc:
                raise LLMMalformedOutput(
                    f"no choices in the answer: {str(body)[:200]}", **where
                ) from exc
            token_ids = choice.get("token_ids")
            if not isinstance(token_ids, list) or not all(isinstance(t, int) for t in token_ids):
                raise LLMMalformedOutput(
                    "the answer has no completion token_ids; is the server vLLM >= 0.10.2 "
                    "(it must honour return_token_ids)?",
                    **where,
                )
            if finish_reason == "length":
                raise LLMTruncatedOutput(
                    f"stopped after {len(token_ids)} tokens at max_tokens={request.max_tokens} "
                    "before <|return|> or <|call|>",
                    **where,
                )
            ends = set(harmony_end_token_ids())
            stop_reason = choice.get("stop_reason")
            if not token_ids or token_ids[-1] not in ends:
                if stop_reason not in ends:
                    raise LLMMalformedOutput(
                        f"the completion ended without a Harmony stop token "
                        f"(finish_reason={finish_reason!r}, stop_reason={stop_reason!r})",
                        **where,
                    )
                # vLLM may leave the matched stop id out of token_ids; Harmony needs it to
                # close the last message.
                token_ids = [*token_ids, stop_reason]
            try:
                messages = harmony_parse(token_ids)
            except HarmonyError as exc:
                raise LLMMalformedOutput(
                    f"the completion is not valid Harmony: {exc}", **where
                ) from exc
            return result_build(
                request,
                answer_from_harmony(messages),
                usage=usage,
                latency_ms=latency_ms,
                finish_reason=finish_reason,
                backend=self.name,
                model=self.model,
                url=self.url,
                prompt_token_ids=prompt_ids,
            )


def _completion_count(body: dict[str, Any]) -> int:
    """The completion's length from its token ids, for a server that sent no usage."""
    try:
        token_ids = body["choices"][0]["token_ids"]
    except (KeyError, IndexError, TypeError):
        return 0
    return len(token_ids) if isinstance(token_ids, list) else 0
