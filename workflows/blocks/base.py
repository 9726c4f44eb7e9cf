"""What a block is, what it is given, and how it fails.

A block is pure of the ORM: the engine resolves the step's config templates, hands the
block a ``BlockContext`` (the model client, an outbound HTTP client, the memory store,
the retriever, ``execute_step`` for an agent's tools), and records what the block
returns or raises. Blocks raise ``BlockError`` subclasses, each with a stable
``error_class`` (what a step's retry policy names in ``on``) and whether trying again
can help.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol

from bizagent.llm.types import ChatClient, ToolSpec

JSON = Any


class BlockError(Exception):
    """A step failed; ``error_class`` names the kind, the message says what and where."""

    error_class: ClassVar[str] = "block_error"
    #: Trying again may succeed (a timeout, a 503); a bad config never will.
    retryable: ClassVar[bool] = False


class BlockConfigError(BlockError):
    """The config (after templates) cannot be used: a wrong type, a missing value."""

    error_class = "config"


class BlockTemplateError(BlockError):
    """A template reference does not resolve at run time (never a silent null)."""

    error_class = "template"


class BlockInputError(BlockError):
    """The step's input (an agent's tool arguments) does not fit its input schema."""

    error_class = "input"


class BlockSchemaError(BlockError):
    """An answer does not fit the schema it must (llm-structured after its repair)."""

    error_class = "schema"


class BlockTimeout(BlockError):
    error_class = "timeout"
    retryable = True


class BlockUpstreamError(BlockError):
    """The far side failed (a 5xx, a reset connection, the model server down)."""

    error_class = "upstream"
    retryable = True


class BlockRefused(BlockError):
    """Refused by a rule: SSRF protection, a size cap, governance."""

    error_class = "refused"


class BlockBudgetExhausted(BlockError):
    """An agent ran out of iterations, tool calls, tokens or depth: a failure, with why."""

    error_class = "budget_exhausted"


class BlockModelError(BlockError):
    """The model's answer could not be used (malformed, truncated, an unknown tool)."""

    error_class = "model"
    retryable = True


@dataclass(frozen=True)
class BlockResult:
    """What a block returns: its output (plain JSON), the port it leaves by, its spend."""

    output: JSON
    port: str = "out"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass(frozen=True)
class Effect:
    """What a step, as resolved, does to the outside world in bulk: governance asks a
    person first when the count crosses a policy line (``mass_send``, ``mass_deletion``).

    ``what`` says it in a person's words ("POST https://mail.example/batch").
    """

    kind: Literal["send", "delete"]
    count: int
    what: str = ""


@dataclass
class Budget:
    """What an agent (and everything it calls) may still spend; lives on the StepRun.

    ``None`` means no limit at this level. A child (a tool step, a subflow, a nested
    agent) gets what is left of its parent's, never more.
    """

    iterations: int | None = None
    tool_calls: int | None = None
    tokens: int | None = None
    depth: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {
            "iterations": self.iterations,
            "tool_calls": self.tool_calls,
            "tokens": self.tokens,
            "depth": self.depth,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Budget:
        data = data or {}
        return cls(
            iterations=data.get("iterations"),
            tool_calls=data.get("tool_calls"),
            tokens=data.get("tokens"),
            depth=data.get("depth"),
        )


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class OutboundHTTP(Protocol):
    """The only way a block reaches the network (SSRF rules and size caps inside)."""

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form_body: dict[str, Any] | None = None,
        timeout: float = 30.0,
        max_bytes: int = 1_000_000,
    ) -> HttpResponse: ...


class MemoryStore(Protocol):
    """Conversation histories keyed by a resolved template (a user and a thread)."""

    def get(self, key: str, *, max_messages: int | None, max_tokens: int | None) -> list[dict]: ...

    def add(self, key: str, messages: list[dict]) -> int: ...

    def clear(self, key: str) -> int: ...


class Retriever(Protocol):
    """Full-text search over document collections (BM25), for rag-query."""

    def search(self, *, collection: str, query: str, limit: int) -> list[dict]: ...


class BlockContext(Protocol):
    """What the engine gives a running block."""

    run_id: int
    step_run_id: int
    step_name: str
    #: Stable per StepRun: outbound calls send it as ``Idempotency-Key``.
    idempotency_key: str
    is_system: bool
    budget: Budget

    @property
    def llm(self) -> ChatClient: ...

    @property
    def http(self) -> OutboundHTTP: ...

    @property
    def memory(self) -> MemoryStore: ...

    @property
    def retriever(self) -> Retriever: ...

    def seconds_left(self) -> float:
        """Until the step's timeout (and the run's deadline) is reached."""
        ...

    def tool_specs(self, names: list[str]) -> list[ToolSpec]:
        """The named steps as tools: name, description, input schema."""
        ...

    def execute_step(self, name: str, args: dict[str, Any]) -> JSON:
        """Run tool step ``name`` with ``args`` as a child StepRun and return its output.

        Validates ``args`` against the step's input schema (``BlockInputError``); the
        same name with the same canonical arguments returns the recorded result; spends
        one tool call from ``budget`` and hands the rest down.
        """
        ...

    def run_subflow(self, workflow: str | int, input: dict[str, Any]) -> JSON:
        """Run a published workflow (by key or id) as a child run; its output or an error."""
        ...


class Block:
    """A generic step type. Subclasses set the class attributes and implement ``run``."""

    slug: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]
    description: ClassVar[str]
    config_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    #: What the step takes when an agent calls it (a step may narrow it).
    input_schema: ClassVar[dict[str, Any]] = {"type": "object"}
    output_schema: ClassVar[dict[str, Any]] = {}
    side_effects: ClassVar[bool] = False
    can_be_tool: ClassVar[bool] = True
    #: Config keys whose text reaches a prompt: templates substituted there have
    #: Harmony control sequences neutralised.
    prompt_keys: ClassVar[tuple[str, ...]] = ()

    def ports(self, config: dict[str, Any]) -> tuple[str, ...]:
        """The ports this step can leave by, besides ``error`` (which every step has)."""
        return ("out",)

    def tool_names(self, config: dict[str, Any]) -> list[str]:
        """The steps this step calls as tools (an agent's ``tools``); the validator checks them."""
        return []

    def subflow_ref(self, config: dict[str, Any]) -> str | int | None:
        """The workflow (key or id) this step runs as a subflow, if any."""
        return None

    def has_side_effects(self, config: dict[str, Any]) -> bool:
        """Whether this step, as configured, changes something outside the run.

        The engine retries a step with side effects only when it is declared
        ``idempotent``. Defaults to the class's ``side_effects``; a block whose effect
        depends on its config (``http``: a GET has none, a POST has) narrows it.
        """
        return self.side_effects

    def hosts(self, config: dict[str, Any]) -> list[str]:
        """The outside hosts this step calls (governance: a new host is a new integration).

        ``"*"`` stands for a host only known at run time (a template in the host).
        """
        return []

    def config_problems(self, config: dict[str, Any]) -> list[tuple[str, str]]:
        """Checks beyond the config schema, as ``(path, message)``; none by default."""
        return []

    def effect(self, config: dict[str, Any], input: dict[str, Any]) -> Effect | None:
        """The bulk effect of running this step with ``config`` (templates resolved).

        The engine asks before it runs the block (``workflows.services.governance``):
        sending to many recipients or deleting many records needs a person past the
        policy's lines. None (the default): nothing to ask about. Raises ``BlockError``
        (a config error) when the config states an effect it cannot count.
        """
        return None

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """The catalogue entry (API ``GET /blocks/{slug}``)."""
        return {
            "slug": self.slug,
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "config_schema": self.config_schema,
            "input_schema": self.input_schema,
            "output_schema": self.output_schema,
            "side_effects": self.side_effects,
            "can_be_tool": self.can_be_tool,
        }


@dataclass
class _Registry:
    blocks: dict[str, Block] = field(default_factory=dict)


_REGISTRY = _Registry()


def block_register(cls: type[Block]) -> type[Block]:
    """Class decorator: make a block known by its slug (one module per block)."""
    existing = _REGISTRY.blocks.get(cls.slug)
    if existing is not None and type(existing).__qualname__ != cls.__qualname__:
        raise ValueError(f"block {cls.slug!r} is already registered to {type(existing)!r}")
    _REGISTRY.blocks[cls.slug] = cls()
    return cls


def block_get(slug: str) -> Block | None:
    return _REGISTRY.blocks.get(slug)


def blocks_all() -> dict[str, Block]:
    """Every registered block by slug (import ``workflows.blocks`` first)."""
    return dict(_REGISTRY.blocks)
