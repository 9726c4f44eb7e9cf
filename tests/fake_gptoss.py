"""A fake gpt-oss server for the test suite: a real HTTP server on loopback.

It speaks three wire protocols exactly as the real servers shape them, and answers with
genuine Harmony token streams built with openai-harmony:

- vLLM ``POST /v1/completions`` with a token-id prompt, ``return_token_ids`` and
  ``skip_special_tokens=false`` (vLLM >= 0.10.2 puts ``prompt_token_ids`` and
  ``token_ids`` on each choice; a matched ``stop_token_ids`` id is kept at the end of
  ``token_ids`` and reported as ``stop_reason``), ``GET /v1/models``;
- Ollama ``POST /api/chat`` (non-streaming; ``message.thinking``/``content``/
  ``tool_calls`` with object arguments; ``done_reason``; the eval counts),
  ``GET /api/tags``, ``GET /api/version``;
- OpenAI-compatible ``POST /v1/chat/completions`` (``reasoning_content`` or
  ``reasoning``, ``tool_calls`` with JSON-string arguments, ``finish_reason``).

For Ollama and OpenAI the server side parses Harmony, as the real servers do: the fake
builds the token stream first and derives the JSON fields by parsing it.

Failures are injected at the socket or protocol level (``FakeReply.failure``): a dropped
connection, a slow answer, any HTTP status with the protocol's error body, a non-JSON
body, tokens that are not Harmony, missing fields, truncation at ``max_tokens``.

It lives in tests/ only; product code never imports it. Run it standalone for manual
checks or benchmarks: ``python -m tests.fake_gptoss --port 8000``.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

DEFAULT_MODELS = ("openai/gpt-oss-20b", "gpt-oss:20b")
PREFIX_BLOCK = 16  # vLLM's default KV block size: cached prefixes are whole blocks.
PREFIX_PROMPTS = 64  # how many recent prompts' blocks the prefix cache keeps


@dataclass
class FakeReply:
    """What the fake answers to one request."""

    final: str = ""
    analysis: str = ""
    #: A commentary-channel message before the final (real gpt-oss sometimes sends one).
    commentary_preamble: str = ""
    #: (name, arguments) pairs; the turn then ends in ``<|call|>``.
    tool_calls: list[tuple[str, dict[str, Any] | str]] = field(default_factory=list)
    #: Exact Harmony text to emit instead of building one.
    raw_completion: str | None = None
    #: unreachable | server_error | status:NNN | slow | truncate | malformed_json |
    #: malformed_harmony | missing_fields
    failure: str | None = None
    delay: float = 0.0
    truncate_at: int | None = None


@dataclass
class FakeRequest:
    backend: str
    method: str
    path: str
    body: dict[str, Any]
    prompt_token_ids: list[int]
    prompt_text: str
    received_at: float


def _encoding():
    from bizagent.llm.harmony import harmony_encoding

    return harmony_encoding()


def completion_text(reply: FakeReply) -> str:
    """The Harmony text the model would generate after ``<|start|>assistant``."""
    if reply.raw_completion is not None:
        return reply.raw_completion
    parts: list[str] = []

    def message(header: str, content: str, end: str) -> None:
        prefix = "" if not parts else "<|start|>assistant"
        parts.append(f"{prefix}{header}<|message|>{content}{end}")

    if reply.analysis:
        message("<|channel|>analysis", reply.analysis, "<|end|>")
    if reply.commentary_preamble:
        message("<|channel|>commentary", reply.commentary_preamble, "<|end|>")
    if reply.tool_calls:
        # gpt-oss puts the recipient in the channel section; the last call stops at <|call|>.
        for index, (name, arguments) in enumerate(reply.tool_calls):
            raw = (
                arguments
                if isinstance(arguments, str)
                else json.dumps(arguments, ensure_ascii=False)
            )
            end = "<|call|>" if index == len(reply.tool_calls) - 1 else "<|end|>"
            message(f"<|channel|>commentary to=functions.{name} <|constrain|>json", raw, end)
    else:
        message("<|channel|>final", reply.final, "<|return|>")
    return "".join(parts)


def completion_tokens(reply: FakeReply) -> list[int]:
    return _encoding().encode(completion_text(reply), allowed_special="all")


def harmony_fields(tokens: list[int]) -> dict[str, Any]:
    """What a server that parses Harmony would extract from the completion tokens."""
    from openai_harmony import Role

    messages = _encoding().parse_messages_from_completion_tokens(
        tokens, Role.ASSISTANT, strict=False
    )
    thinking, content, calls = [], [], []
    for item in messages:
        text = "".join(getattr(part, "text", "") for part in item.content)
        if item.recipient and item.recipient.startswith("functions."):
            calls.append((item.recipient.removeprefix("functions."), text))
        elif item.channel == "analysis":
            thinking.append(text)
        elif item.channel == "final":
            content.append(text)
    return {"thinking": "\n".join(thinking), "content": "\n".join(content), "calls": calls}


def json_for_schema(schema: dict[str, Any]) -> Any:
    """A small value that satisfies ``schema`` (the subset our role schemas use)."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return json_for_schema(schema[key][0])
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return json_for_schema(merged)
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties", {})
        required = schema.get("required", list(properties))
        return {name: json_for_schema(properties.get(name, {})) for name in required}
    if kind == "array":
        count = max(1, schema.get("minItems", 1))
        return [json_for_schema(schema.get("items", {"type": "string"})) for _ in range(count)]
    if kind == "string":
        length = max(schema.get("minLength", 1), 1)
        text = "example"
        while len(text) < length:
            text += " example"
        return text[: schema.get("maxLength", len(text))]
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
        high = schema.get("maximum", schema.get("exclusiveMaximum", low + 10))
        value = (low + high) / 2
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None


_RESPONSE_FORMAT = re.compile(
    r"# Response Formats\n\n## [^\n]+\n\n(?://[^\n]*\n)*(\{.*\})", re.DOTALL
)


def default_responder(request: FakeRequest) -> FakeReply:
    """Answer the last user message; honour a declared response format with valid JSON."""
    match = _RESPONSE_FORMAT.search(request.prompt_text)
    if match:
        decoder = json.JSONDecoder()
        try:
            schema, _ = decoder.raw_decode(match.group(1))
            return FakeReply(analysis="Fill the format.", final=json.dumps(json_for_schema(schema)))
        except json.JSONDecodeError:
            pass
    users = re.findall(
        r"<\|start\|>user<\|message\|>(.*?)<\|end\|>", request.prompt_text, re.DOTALL
    )
    last = users[-1].strip() if users else ""
    return FakeReply(analysis="Answer briefly.", final=f"ok: {last[:80]}" if last else "ok")


class FakeGptOss:
    """The server; use as a context manager or call ``start()``/``stop()``."""

    def __init__(
        self,
        *,
        port: int = 0,
        models: tuple[str, ...] = DEFAULT_MODELS,
        reasoning_field: str = "reasoning_content",
    ) -> None:
        self.port = port
        self.models = set(models)
        self.model = models[0]
        self.reasoning_field = reasoning_field
        self.responder: Callable[[FakeRequest], FakeReply] = default_responder
        self.requests: list[FakeRequest] = []
        #: The usage reported with each answer that carried one, as the client should bill it.
        self.usages: list[dict[str, int]] = []
        #: Seconds spent answering POSTs (reading, the responder, writing the answer): the
        #: stand-in model's own time, which a benchmark's wall time includes.
        self.answering_seconds = 0.0
        #: TCP connections accepted: a client that keeps its connection opens one.
        self.connections = 0
        #: The open connections' sockets: a server that dies drops them all.
        self._open: set[socket.socket] = set()
        self._queue: deque[FakeReply] = deque()
        self._lock = threading.Lock()
        #: The prefix cache (``cached_prefix``): (parent node, block ids) -> [node id,
        #: prompts holding it], and each kept prompt's keys, oldest first.
        self._prefix_nodes: dict[tuple[int, tuple[int, ...]], list[int]] = {}
        self._prefix_paths: deque[list[tuple[int, tuple[int, ...]]]] = deque()
        self._prefix_ids = itertools.count(1)  # node ids; 0 is the empty prefix
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- control -------------------------------------------------------------------
    def start(self) -> FakeGptOss:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._lock:
            dropped, self._open = self._open, set()
        for connection in dropped:  # a kept-alive client finds its connection closed
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeGptOss:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def base_url(self, backend: str = "vllm") -> str:
        root = f"http://127.0.0.1:{self.port}"
        return root if backend == "ollama" else f"{root}/v1"

    def enqueue(self, *replies: FakeReply) -> None:
        with self._lock:
            self._queue.extend(replies)

    def next_reply(self, request: FakeRequest) -> FakeReply:
        with self._lock:
            self.requests.append(request)
            if self._queue:
                return self._queue.popleft()
        return self.responder(request)

    def cached_prefix(self, prompt: list[int]) -> int:
        """Longest prefix shared with one of the last ``PREFIX_PROMPTS`` prompts, in whole
        KV blocks (like vLLM).

        Kept as vLLM keeps it: each whole block is known by the prefix it ends (here a
        node of a trie: the node of the blocks before it and the block's own ids), so a
        prompt is looked up block by block, in time linear in its length. Comparing it
        with every earlier prompt id by id made the stand-in's answering grow with the
        prompt's length times the prompts kept, a cost no real server has.
        """
        blocks = [
            tuple(prompt[start : start + PREFIX_BLOCK])
            for start in range(0, len(prompt) - PREFIX_BLOCK + 1, PREFIX_BLOCK)
        ]
        with self._lock:
            # One walk: the blocks found are the cached prefix (up to the first one not
            # found), and every block of this prompt takes a reference.
            nodes, path = self._prefix_nodes, []
            shared, found, parent = 0, True, 0
            for block in blocks:
                key = (parent, block)
                node = nodes.get(key)
                if node is None:
                    found, node = False, [next(self._prefix_ids), 0]
                    nodes[key] = node
                if found:
                    shared += 1
                node[1] += 1
                path.append(key)
                parent = node[0]
            # Forget the oldest prompt's blocks once more than PREFIX_PROMPTS are kept.
            self._prefix_paths.append(path)
            if len(self._prefix_paths) > PREFIX_PROMPTS:
                for key in self._prefix_paths.popleft():
                    node = nodes[key]
                    node[1] -= 1
                    if not node[1]:
                        del nodes[key]
        return shared * PREFIX_BLOCK

    def usage_record(self, prompt: int, completion: int, cached: int | None = None) -> None:
        with self._lock:
            self.usages.append(
                {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached}
            )

    def usage_total(self) -> tuple[int, int]:
        """(prompt, completion) tokens over every answer so far."""
        with self._lock:
            return (
                sum(u["prompt_tokens"] for u in self.usages),
                sum(u["completion_tokens"] for u in self.usages),
            )

    def new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}{uuid.uuid4().hex[:8]}"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGptOss
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without TCP_NODELAY, Nagle's algorithm and
    # the client's delayed ACK add ~40 ms to every keep-alive answer.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        with self.fake._lock:
            self.fake.connections += 1
            self.fake._open.add(self.connection)

    def finish(self) -> None:
        with self.fake._lock:
            self.fake._open.discard(self.connection)
        super().finish()

    # --- plumbing ------------------------------------------------------------------
    def _send(self, status: int, body: Any, *, raw: bytes | None = None) -> None:
        # orjson, as the client reads it: the standard library's encoder took ~1 ms of the
        # stand-in's answering for the ~5,000 prompt ids a vLLM answer echoes back.
        payload = raw if raw is not None else orjson.dumps(body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the socket without a byte of answer: a dropped connection."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def _error(self, backend: str, status: int, message: str) -> None:
        if backend == "ollama":
            self._send(status, {"error": message})
        elif backend == "vllm":
            self._send(
                status,
                {
                    "object": "error",
                    "message": message,
                    "type": _error_type(status),
                    "param": None,
                    "code": status,
                },
            )
        else:
            self._send(
                status,
                {
                    "error": {
                        "message": message,
                        "type": _error_type(status),
                        "param": None,
                        "code": str(status),
                    }
                },
            )

    def _read_json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b"{}"
        return orjson.loads(data or b"{}")

    # --- routes --------------------------------------------------------------------
    def do_GET(self) -> None:
        if self.path == "/v1/models":
            data = [
                {
                    "id": name,
                    "object": "model",
                    "created": 0,
                    "owned_by": "vllm",
                    "max_model_len": 131072,
                }
                for name in sorted(self.fake.models)
            ]
            self._send(200, {"object": "list", "data": data})
        elif self.path == "/api/tags":
            models = [
                {"name": n, "model": n, "size": 13780173839} for n in sorted(self.fake.models)
            ]
            self._send(200, {"models": models})
        elif self.path == "/api/version":
            self._send(200, {"version": "0.12.3"})
        else:
            self._send(404, {"error": f"no route {self.path}"})

    def do_POST(self) -> None:
        started = time.perf_counter()
        try:
            self._post()
        finally:
            with self.fake._lock:
                self.fake.answering_seconds += time.perf_counter() - started

    def _post(self) -> None:
        routes = {
            "/v1/completions": ("vllm", self._vllm),
            "/v1/chat/completions": ("openai", self._openai),
            "/api/chat": ("ollama", self._ollama),
        }
        if self.path not in routes:
            self._send(404, {"error": f"no route {self.path}"})
            return
        backend, handle = routes[self.path]
        media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if backend != "ollama" and media_type != "application/json":
            # FastAPI (vLLM's and OpenAI-compatible servers) reads a body only as JSON.
            self._error(backend, 400, f"expected Content-Type application/json, got {media_type!r}")
            return
        try:
            body = self._read_json()
        except json.JSONDecodeError:
            self._error(backend, 400, "request body is not JSON")
            return
        model = body.get("model")
        if model not in self.fake.models:
            if backend == "ollama":
                message = f'model "{model}" not found, try pulling it first'
            else:
                message = f"The model `{model}` does not exist."
            self.fake.requests.append(
                FakeRequest(backend, "POST", self.path, body, [], "", time.time())
            )
            self._error(backend, 404, message)
            return
        prompt_ids = self._prompt_ids(backend, body)
        request = FakeRequest(
            backend=backend,
            method="POST",
            path=self.path,
            body=body,
            prompt_token_ids=prompt_ids,
            prompt_text=_encoding().decode(prompt_ids),
            received_at=time.time(),
        )
        reply = self.fake.next_reply(request)
        if reply.delay or reply.failure == "slow":
            time.sleep(reply.delay or 5.0)
        failure = reply.failure or ""
        if failure == "unreachable":
            self._drop()
            return
        if failure == "server_error":
            self._error(backend, 500, "Internal Server Error: the engine crashed")
            return
        if failure.startswith("status:"):
            status = int(failure.split(":", 1)[1])
            self._error(backend, status, f"injected HTTP {status}")
            return
        if failure == "malformed_json":
            self._send(200, None, raw=b"<html>upstream proxy error</html>")
            return
        if failure == "missing_fields":
            self._send(200, {"id": self.fake.new_id("x"), "object": "unknown"})
            return
        handle(body, reply, prompt_ids)

    # --- prompts -------------------------------------------------------------------
    def _prompt_ids(self, backend: str, body: dict[str, Any]) -> list[int]:
        if backend == "vllm":
            prompt = body.get("prompt")
            return (
                list(prompt)
                if isinstance(prompt, list)
                else _encoding().encode(str(prompt or ""), allowed_special="all")
            )
        # Chat servers render Harmony themselves; render the received messages the same way.
        return _render_chat(body)

    # --- completions ---------------------------------------------------------------
    def _tokens(self, reply: FakeReply, max_tokens: int) -> tuple[list[int], str]:
        if reply.failure == "malformed_harmony":
            enc = _encoding()
            return enc.encode(
                "<|message|><|message|>no header<|end|><|return|>", allowed_special="all"
            ), "stop"
        tokens = completion_tokens(reply)
        limit = reply.truncate_at if reply.truncate_at is not None else max_tokens
        if reply.failure == "truncate" or len(tokens) > limit:
            return tokens[: min(limit, len(tokens) - 1)], "length"
        return tokens, "stop"

    def _vllm(self, body: dict[str, Any], reply: FakeReply, prompt_ids: list[int]) -> None:
        tokens, finish = self._tokens(reply, int(body.get("max_tokens") or 16))
        stops = set(body.get("stop_token_ids") or [])
        stop_reason = tokens[-1] if finish == "stop" and tokens and tokens[-1] in stops else None
        enc = _encoding()
        text = enc.decode(tokens)
        if body.get("skip_special_tokens", True):
            text = re.sub(r"<\|[a-z_]+\|>", "", text)
        cached = self.fake.cached_prefix(prompt_ids)
        choice: dict[str, Any] = {
            "index": 0,
            "text": text,
            "logprobs": None,
            "finish_reason": finish,
            "stop_reason": stop_reason,
            "prompt_logprobs": None,
        }
        if body.get("return_token_ids"):
            choice["prompt_token_ids"] = prompt_ids
            choice["token_ids"] = tokens
        self.fake.usage_record(len(prompt_ids), len(tokens), cached or None)
        self._send(
            200,
            {
                "id": self.fake.new_id("cmpl"),
                "object": "text_completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [choice],
                "usage": {
                    "prompt_tokens": len(prompt_ids),
                    "total_tokens": len(prompt_ids) + len(tokens),
                    "completion_tokens": len(tokens),
                    "prompt_tokens_details": {"cached_tokens": cached} if cached else None,
                },
            },
        )

    def _ollama(self, body: dict[str, Any], reply: FakeReply, prompt_ids: list[int]) -> None:
        options = body.get("options") or {}
        tokens, finish = self._tokens(reply, int(options.get("num_predict") or 4096))
        parsed = harmony_fields(tokens)
        message: dict[str, Any] = {"role": "assistant", "content": parsed["content"]}
        if parsed["thinking"]:
            message["thinking"] = parsed["thinking"]
        if parsed["calls"]:
            message["tool_calls"] = [
                {"function": {"name": name, "arguments": _loads_or_text(raw)}}
                for name, raw in parsed["calls"]
            ]
        self.fake.usage_record(len(prompt_ids), len(tokens))
        self._send(
            200,
            {
                "model": body["model"],
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime()),
                "message": message,
                "done": True,
                "done_reason": finish,
                "total_duration": 1_000_000,
                "load_duration": 10_000,
                "prompt_eval_count": len(prompt_ids),
                "prompt_eval_duration": 500_000,
                "eval_count": len(tokens),
                "eval_duration": 400_000,
            },
        )

    def _openai(self, body: dict[str, Any], reply: FakeReply, prompt_ids: list[int]) -> None:
        limit = int(body.get("max_completion_tokens") or body.get("max_tokens") or 4096)
        tokens, finish = self._tokens(reply, limit)
        parsed = harmony_fields(tokens)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": parsed["content"] or None,
            self.fake.reasoning_field: parsed["thinking"] or None,
        }
        if parsed["calls"]:
            message["tool_calls"] = [
                {
                    "id": f"call_{uuid.uuid4().hex[:12]}",
                    "type": "function",
                    "function": {"name": name, "arguments": raw},
                }
                for name, raw in parsed["calls"]
            ]
            if finish == "stop":
                finish = "tool_calls"
        cached = self.fake.cached_prefix(prompt_ids)
        self.fake.usage_record(len(prompt_ids), len(tokens), cached)
        self._send(
            200,
            {
                "id": self.fake.new_id("chatcmpl"),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
                ],
                "usage": {
                    "prompt_tokens": len(prompt_ids),
                    "completion_tokens": len(tokens),
                    "total_tokens": len(prompt_ids) + len(tokens),
                    "prompt_tokens_details": {"cached_tokens": cached},
                },
            },
        )


def _error_type(status: int) -> str:
    return {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}.get(
        status, "InternalServerError" if status >= 500 else "Error"
    )


def _loads_or_text(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _render_chat(body: dict[str, Any]) -> list[int]:
    """Render chat messages to Harmony the way a chat server would (close enough for counts)."""
    from openai_harmony import (
        Author,
        Conversation,
        DeveloperContent,
        Message,
        Role,
        SystemContent,
        ToolDescription,
    )

    developer = DeveloperContent.new()
    messages: list[Message] = []
    for item in body.get("messages") or []:
        role = item.get("role")
        content = item.get("content") or ""
        if role in ("system", "developer"):
            developer = developer.with_instructions(content)
        elif role == "user":
            messages.append(Message.from_role_and_content(Role.USER, content))
        elif role == "tool":
            name = item.get("tool_name") or item.get("name") or "tool"
            messages.append(
                Message.from_author_and_content(Author.new(Role.TOOL, f"functions.{name}"), content)
                .with_channel("commentary")
                .with_recipient("assistant")
            )
        elif role == "assistant":
            thinking = (
                item.get("thinking") or item.get("reasoning_content") or item.get("reasoning")
            )
            if thinking:
                messages.append(
                    Message.from_role_and_content(Role.ASSISTANT, thinking).with_channel("analysis")
                )
            for call in item.get("tool_calls") or []:
                function = call.get("function") or {}
                arguments = function.get("arguments")
                raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
                messages.append(
                    Message.from_role_and_content(Role.ASSISTANT, raw)
                    .with_channel("commentary")
                    .with_recipient(f"functions.{function.get('name')}")
                )
            if content:
                messages.append(
                    Message.from_role_and_content(Role.ASSISTANT, content).with_channel("final")
                )
    tools = [
        ToolDescription.new(
            t["function"]["name"],
            t["function"].get("description", ""),
            t["function"].get("parameters"),
        )
        for t in body.get("tools") or []
    ]
    if tools:
        developer = developer.with_function_tools(tools)
    conversation = Conversation.from_messages(
        [
            Message.from_role_and_content(Role.SYSTEM, SystemContent.new()),
            Message.from_role_and_content(Role.DEVELOPER, developer),
            *messages,
        ]
    )
    return _encoding().render_conversation_for_completion(conversation, Role.ASSISTANT)


@pytest.fixture
def fake_gptoss():
    """A started fake gpt-oss server on a free loopback port."""
    server = FakeGptOss().start()
    try:
        yield server
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Fake gpt-oss server on loopback (tests only).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", action="append", help="served model name (repeatable)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings_test")
    import django

    django.setup()
    server = FakeGptOss(port=args.port, models=tuple(args.model or DEFAULT_MODELS)).start()
    print(
        f"fake gpt-oss on http://127.0.0.1:{server.port} (vLLM /v1/completions, "
        "Ollama /api/chat, OpenAI /v1/chat/completions); Ctrl-C stops it",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
