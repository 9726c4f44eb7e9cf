"""A ``BlockContext`` for block tests, and a helper that runs a block like the engine does.

``BlockCtx`` gives a block what the engine would: a real ``LLMClient`` (point it at the
fake gpt-oss server with ``BlockCtx.for_fake``), a dict memory store with the ORM
store's semantics (``workflows.memory`` defines windows and limits once), and
``execute_step``/``run_subflow`` that record each call and answer from a handler the
test sets (a dict of canned outputs or a callable; an exception instance is raised).
Whatever the test did not give (no llm, no http) fails loudly when a block reaches for it.

``block_run`` validates the config against the block's schema and ``config_problems``,
resolves its templates against a scope (neutralising the block's ``prompt_keys``, as the
engine does) and calls ``run``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bizagent.llm.structured import schema_errors
from bizagent.llm.types import ChatClient, ToolSpec
from tests.llm_backends import fake_client
from workflows.blocks import block_get
from workflows.blocks.base import (
    Block,
    BlockConfigError,
    BlockResult,
    Budget,
    OutboundHTTP,
    Retriever,
)
from workflows.memory import MEMORY_KEY_CAP, memory_messages_check, memory_tokens, memory_window
from workflows.templates import template_render


class DictMemoryStore:
    """``MemoryStore`` in a dict, with the ORM store's limits and windows."""

    def __init__(self, *, max_messages_per_key: int = MEMORY_KEY_CAP) -> None:
        self.cap = max_messages_per_key
        self.data: dict[str, list[dict[str, Any]]] = {}

    def get(
        self, key: str, *, max_messages: int | None, max_tokens: int | None
    ) -> list[dict[str, Any]]:
        newest_first = [dict(m) for m in reversed(self.data.get(key, []))]
        return memory_window(newest_first, max_messages=max_messages, max_tokens=max_tokens)

    def add(self, key: str, messages: list[dict[str, Any]]) -> int:
        memory_messages_check(key, messages)
        stored = self.data.setdefault(key, [])
        stored.extend(
            {"role": m["role"], "content": m["content"], "tokens": memory_tokens(m["content"])}
            for m in messages
        )
        del stored[: max(0, len(stored) - self.cap)]
        return len(messages)

    def clear(self, key: str) -> int:
        return len(self.data.pop(key, []))


Handler = dict[Any, Any] | Callable[..., Any] | None


def _answer(handler: Handler, key: Any, *args: Any) -> Any:
    if handler is None:
        raise AssertionError(f"the test gave no handler for {key!r}")
    result = handler[key] if isinstance(handler, dict) else handler(key, *args)
    if isinstance(result, BaseException):
        raise result
    return result


@dataclass
class BlockCtx:
    """A test ``BlockContext``; every field can be set per test."""

    run_id: int = 1
    step_run_id: int = 1
    step_name: str = "step"
    idempotency_key: str = "wf-1-1"
    is_system: bool = False
    budget: Budget = field(default_factory=Budget)
    llm_client: ChatClient | None = None
    http_client: OutboundHTTP | None = None
    memory_store: Any = field(default_factory=DictMemoryStore)
    retriever_impl: Retriever | None = None
    time_left: float = 300.0
    #: Tool steps by name, for ``tool_specs``.
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    #: ``{name: output}`` or ``f(name, args)``: what ``execute_step`` answers.
    step_handler: Handler = None
    #: ``{workflow: output}`` or ``f(workflow, input)``: what ``run_subflow`` answers.
    subflow_handler: Handler = None
    step_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    subflow_calls: list[tuple[str | int, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def for_fake(cls, fake: Any, backend: str = "vllm", **fields: Any) -> BlockCtx:
        """A context whose ``llm`` is a real client talking ``backend`` to the fake server."""
        options = {k: fields.pop(k) for k in ("timeout", "retries") if k in fields}
        return cls(llm_client=fake_client(fake, backend, **options), **fields)

    @property
    def llm(self) -> ChatClient:
        if self.llm_client is None:
            raise AssertionError("the test gave the block no llm")
        return self.llm_client

    @property
    def http(self) -> OutboundHTTP:
        if self.http_client is None:
            raise AssertionError("the test gave the block no http client")
        return self.http_client

    @property
    def memory(self) -> Any:
        return self.memory_store

    @property
    def retriever(self) -> Retriever:
        if self.retriever_impl is None:
            raise AssertionError("the test gave the block no retriever")
        return self.retriever_impl

    def seconds_left(self) -> float:
        return self.time_left

    def tool_specs(self, names: list[str]) -> list[ToolSpec]:
        return [self.tools[name] for name in names]

    def execute_step(self, name: str, args: dict[str, Any]) -> Any:
        self.step_calls.append((name, args))
        return _answer(self.step_handler, name, args)

    def run_subflow(self, workflow: str | int, input: dict[str, Any]) -> Any:
        self.subflow_calls.append((workflow, input))
        return _answer(self.subflow_handler, workflow, input)


def config_resolve(block: Block, config: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    """The config with templates resolved as the engine does (prompt keys neutralised)."""
    return {
        key: template_render(value, scope, where=key, neutralise=key in block.prompt_keys)
        for key, value in config.items()
    }


def block_run(
    slug: str,
    config: dict[str, Any],
    *,
    ctx: BlockCtx | None = None,
    scope: dict[str, Any] | None = None,
    input: dict[str, Any] | None = None,
) -> BlockResult:
    """Check ``config`` like the validator, resolve it like the engine, run the block."""
    block = block_get(slug)
    assert block is not None, f"no block {slug!r} registered"
    problems = schema_errors(config, block.config_schema) + [
        f"{path}: {message}" for path, message in block.config_problems(config)
    ]
    if problems:
        raise BlockConfigError("; ".join(problems))
    scope = {"input": {}, "steps": {}, "vars": {}, "ctx": {}, **(scope or {})}
    resolved = config_resolve(block, config, scope)
    return block.run(config=resolved, input=input or {}, ctx=ctx or BlockCtx())
