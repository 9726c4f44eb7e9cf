"""The one structural validator of workflow documents (pure: no ORM, no settings).

The API, the admin, the import command and the copilot all ask ``graph_validate``
whether a document may be saved; it answers with every problem at once, each a
``Problem`` ``{"code", "message", "step", "path"}`` where ``path`` points into the
document (``steps.2.config.url``, ``edges.0.to``) and ``message`` names the offending
value so a person can fix it without reading code.

The checks run in layers: the shape of the JSON (keys, types, names), each step on its
own (block, config schema, retry, on_error), the edges and the graph they draw (ports,
one start, reachability, cycles), the agents' tools, the template references (a step
reads only what has finished upstream of it) and the subflow targets. A layer that
cannot be trusted (a step whose config fails its schema, a graph with no single start)
keeps the later checks that depend on it quiet instead of piling up echoes of one
mistake.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.text import slugify
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from bizagent.llm.structured import schema_check
from workflows.blocks import Block, blocks_all
from workflows.blocks.base import BlockError
from workflows.errors import Problem, problem
from workflows.templates import template_scan

__all__ = [
    "ON_ERROR_VALUES",
    "STEP_NAME",
    "SubflowTarget",
    "document_normalise",
    "graph_validate",
]

#: Step names are the tool names an agent sees: the model's function-name alphabet.
STEP_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_KEY = re.compile(r"^[-a-z0-9_]{1,80}$")

#: ``workflows.models.OnError``'s values, repeated here to keep this module free of the
#: ORM; a test holds the two equal.
ON_ERROR_VALUES = ("fail", "continue", "error_branch", "default_output")
BACKOFFS = ("constant", "exponential")
MAX_ATTEMPTS = 10
MAX_DELAY_SECONDS = 3600

#: The context keys only a system workflow may read (they reach the internal API).
SYSTEM_CTX_KEYS = ("internal_api_token", "internal_base_url")
#: The context keys the output mapping may not read: it is rendered once the steps are
#: done (there is no step, so no step name or idempotency key) and it is stored and
#: returned to callers (so no internal API token, nor where it is sent).
NOT_IN_OUTPUT_CTX_KEYS = ("step_name", "idempotency_key", *SYSTEM_CTX_KEYS)

_DOCUMENT_DEFAULTS: dict[str, Any] = {
    "description": "",
    "input_schema": {"type": "object"},
    "output": {},
    "is_system": False,
    "timeout_seconds": 3600,
}
_STEP_DEFAULTS: dict[str, Any] = {
    "description": "",
    "config": {},
    "input_schema": None,
    "retry": {},
    "on_error": "fail",
    "default_output": None,
    "timeout_seconds": 300,
    "tool_only": False,
    "idempotent": False,
}
_EDGE_DEFAULTS: dict[str, Any] = {"port": "out"}

DOCUMENT_KEYS = frozenset({"name", "key", "steps", "edges", *_DOCUMENT_DEFAULTS})
STEP_KEYS = frozenset({"name", "block", *_STEP_DEFAULTS})
EDGE_KEYS = frozenset({"from", "to", *_EDGE_DEFAULTS})
RETRY_KEYS = frozenset({"attempts", "backoff", "delay_seconds", "on"})


@dataclass(frozen=True)
class SubflowTarget:
    """What the validator needs to know about a workflow a subflow step runs."""

    #: The reference as the step wrote it (a key or an id).
    ref: str | int
    workflow_id: int
    input_schema: dict[str, Any]
    output: Any
    published: bool
    #: The target's key (shared by its versions); recursion is detected by it.
    key: str = ""


SubflowLookup = Callable[[str | int], SubflowTarget | None]


def document_normalise(document: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``document`` with every optional field filled with its default.

    Only fields that are absent are filled; a present value (even a wrong one) is kept
    for ``graph_validate`` to judge. ``key`` is left alone: the definitions service
    derives it from the name when it is missing.
    """
    result = copy.deepcopy(document)
    if not isinstance(result, dict):
        return result
    for key, default in _DOCUMENT_DEFAULTS.items():
        result.setdefault(key, copy.deepcopy(default))
    result.setdefault("steps", [])
    result.setdefault("edges", [])
    if isinstance(result["steps"], list):
        for step in result["steps"]:
            if isinstance(step, dict):
                for key, default in _STEP_DEFAULTS.items():
                    step.setdefault(key, copy.deepcopy(default))
    if isinstance(result["edges"], list):
        for edge in result["edges"]:
            if isinstance(edge, dict):
                for key, default in _EDGE_DEFAULTS.items():
                    edge.setdefault(key, default)
    return result


def document_key(document: Mapping[str, Any]) -> str:
    """The document's key: as given, or derived from its name (as the services do)."""
    key = document.get("key")
    if isinstance(key, str) and key:
        return key
    name = document.get("name")
    return slugify(name) if isinstance(name, str) else ""


# --------------------------------------------------------------------------- helpers


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _join(*parts: str | int) -> str:
    return ".".join(str(part) for part in parts if part != "")


def _who(label: str | None, where: str) -> str:
    """How a message names a step: by name, or by position when it has none."""
    return f"step {label}" if label else f"step {where.removeprefix('steps.')}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _error_classes() -> set[str]:
    """Every ``error_class`` a block can raise (subclasses defined by blocks included)."""
    found: set[str] = set()
    pending: list[type[BlockError]] = [BlockError]
    while pending:
        cls = pending.pop()
        found.add(cls.error_class)
        pending.extend(cls.__subclasses__())
    return found


def _schema_problem(schema: Any) -> tuple[str, str] | None:
    """``(path inside the schema, message)`` when ``schema`` is not a valid JSON Schema."""
    if not isinstance(schema, dict | bool):
        return "", f"a JSON Schema is an object, not {_kind(schema)}"
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return _join(*exc.path), exc.message
    return None


def _cycle_in(members: set[str], succ: Mapping[str, list[str]], order: list[str]) -> list[str]:
    """The shortest cycle through the first (in document order) of a strongly connected set."""
    start = next(name for name in order if name in members)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in succ.get(node, []):
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return list(reversed(path))
                if nxt not in parent:
                    parent[nxt] = node
                    following.append(nxt)
        frontier = following
    return [start]  # unreachable for a strongly connected set; kept total for mypy


def _strongly_connected(nodes: list[str], succ: Mapping[str, list[str]]) -> list[set[str]]:
    """Tarjan's components (iterative, so a long chain cannot hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(succ.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


# --------------------------------------------------------------------------- the validator


@dataclass
class _Step:
    """What the later layers need to know about one step that passed the shape checks."""

    index: int
    name: str
    block: Block | None
    config: dict[str, Any]
    tool_only: bool
    on_error: str
    input_schema: dict[str, Any] | None
    #: ``None`` when the config failed its schema and the block could not be asked.
    #: The config fits the block's schema and its own checks.
    config_ok: bool = False
    ports: tuple[str, ...] | None = None
    tools: list[str] | None = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"steps.{self.index}"


class _Validator:
    def __init__(
        self,
        document: dict[str, Any],
        blocks: Mapping[str, Block],
        subflow_lookup: SubflowLookup | None,
    ) -> None:
        self.document = document
        self.blocks = blocks
        self.subflow_lookup = subflow_lookup
        self.problems: list[Problem] = []
        self.steps: dict[str, _Step] = {}
        self.order: list[str] = []
        self.succ: dict[str, list[str]] = {}
        self.pred: dict[str, list[str]] = {}
        self.edge_index: dict[tuple[str, str], int] = {}
        self.graph_trusted = True
        #: Tool step name -> the steps that name it as a tool.
        self.users: dict[str, list[str]] = {}
        self.is_system = document.get("is_system") is True
        self.workflow_input_schema: Any = document.get("input_schema", {"type": "object"})

    def add(self, code: str, message: str, *, step: str | None = None, path: str = "") -> None:
        self.problems.append(problem(code, message, step=step, path=path))

    # ---- layer 1: the document's shape

    def check_document(self) -> None:
        doc = self.document
        for key in sorted(set(doc) - DOCUMENT_KEYS, key=str):
            self.add(
                "UNKNOWN_KEY",
                f"unknown key {key!r} in the workflow "
                f"(allowed: {', '.join(sorted(DOCUMENT_KEYS))})",
                path=str(key),
            )
        name = doc.get("name")
        if name is None or name == "":
            self.add("MISSING", "the workflow needs a name", path="name")
        elif not isinstance(name, str):
            self.add(
                "TYPE", f"the workflow's name must be a string, not {_kind(name)}", path="name"
            )
        slug = doc.get("key")
        if slug is not None:
            if not isinstance(slug, str):
                self.add("TYPE", f"key must be a string, not {_kind(slug)}", path="key")
            elif not _KEY.match(slug):
                self.add(
                    "SCHEMA",
                    f"key {slug!r} must be 1-80 lowercase letters, digits, '-' or '_'",
                    path="key",
                )
        if not isinstance(doc.get("description", ""), str):
            self.add(
                "TYPE",
                f"description must be a string, not {_kind(doc['description'])}",
                path="description",
            )
        if not isinstance(doc.get("is_system", False), bool):
            self.add(
                "TYPE",
                f"is_system must be true or false, not {doc['is_system']!r}",
                path="is_system",
            )
        self.check_timeout(doc.get("timeout_seconds", 3600), path="timeout_seconds", step=None)
        schema = self.workflow_input_schema
        if not isinstance(schema, dict):
            self.add(
                "TYPE",
                f"input_schema must be a JSON Schema object, not {_kind(schema)}",
                path="input_schema",
            )
            self.workflow_input_schema = {"type": "object"}
        else:
            found = _schema_problem(schema)
            if found is not None:
                self.add(
                    "SCHEMA",
                    f"input_schema is not a valid JSON Schema: {found[1]}",
                    path=_join("input_schema", found[0]),
                )
                self.workflow_input_schema = {"type": "object"}
            elif schema.get("type", "object") != "object":
                self.add(
                    "SCHEMA",
                    f"input_schema must describe an object (a run's input is one), "
                    f"not type {schema.get('type')!r}",
                    path="input_schema.type",
                )
        output = doc.get("output", {})
        if not isinstance(output, dict):
            self.add(
                "TYPE",
                f"output must be an object mapping names to templates, not {_kind(output)}",
                path="output",
            )

    def check_timeout(self, value: Any, *, path: str, step: str | None) -> None:
        if not _is_int(value):
            self.add(
                "TYPE",
                f"timeout_seconds must be a whole number of seconds, not {value!r}",
                step=step,
                path=path,
            )
        elif value < 1:
            self.add(
                "SCHEMA", f"timeout_seconds must be at least 1, not {value}", step=step, path=path
            )

    # ---- layer 2: each step on its own

    def check_steps(self) -> None:
        if "steps" not in self.document:
            self.add("MISSING", "the workflow needs a list of steps", path="steps")
            return
        steps = self.document["steps"]
        if not isinstance(steps, list):
            self.add("TYPE", f"steps must be a list, not {_kind(steps)}", path="steps")
            return
        for index, raw in enumerate(steps):
            self.check_step(index, raw)

    def check_step(self, index: int, raw: Any) -> None:
        where = f"steps.{index}"
        if not isinstance(raw, dict):
            self.add("TYPE", f"step {index} must be an object, not {_kind(raw)}", path=where)
            return
        name = raw.get("name")
        label: str | None = name if isinstance(name, str) and name else None
        for key in sorted(set(raw) - STEP_KEYS, key=str):
            self.add(
                "UNKNOWN_KEY",
                f"unknown key {key!r} in step {label or index} "
                f"(allowed: {', '.join(sorted(STEP_KEYS))})",
                step=label,
                path=_join(where, str(key)),
            )
        usable = True
        if name is None or name == "":
            self.add("MISSING", f"step {index} needs a name", path=f"{where}.name")
            usable = False
        elif not isinstance(name, str):
            self.add(
                "TYPE",
                f"step {index}'s name must be a string, not {_kind(name)}",
                path=f"{where}.name",
            )
            usable = False
        elif not STEP_NAME.match(name):
            self.add(
                "BAD_NAME",
                f"step name {name!r} must start with a lowercase letter and hold only "
                "lowercase letters, digits and '_' (at most 64): it is the tool name an agent sees",
                step=name,
                path=f"{where}.name",
            )
        elif name in self.steps:
            self.add(
                "DUPLICATE_STEP",
                f"step name {name!r} is used twice (steps {self.steps[name].index} and {index})",
                step=name,
                path=f"{where}.name",
            )
            usable = False

        block: Block | None = None
        slug = raw.get("block")
        if slug is None or slug == "":
            self.add(
                "MISSING", f"step {label or index} needs a block", step=label, path=f"{where}.block"
            )
        elif not isinstance(slug, str):
            self.add(
                "TYPE",
                f"step {label or index}'s block must be a slug string, not {_kind(slug)}",
                step=label,
                path=f"{where}.block",
            )
        else:
            block = self.blocks.get(slug)
            if block is None:
                self.add(
                    "UNKNOWN_BLOCK",
                    f"step {label or index} uses block {slug!r}, which does not exist "
                    f"(known: {', '.join(sorted(self.blocks)) or 'none'})",
                    step=label,
                    path=f"{where}.block",
                )

        if not isinstance(raw.get("description", ""), str):
            self.add(
                "TYPE",
                f"step {label or index}'s description must be a string",
                step=label,
                path=f"{where}.description",
            )
        for flag in ("tool_only", "idempotent"):
            if not isinstance(raw.get(flag, False), bool):
                self.add(
                    "TYPE",
                    f"step {label or index}'s {flag} must be true or false, not {raw[flag]!r}",
                    step=label,
                    path=f"{where}.{flag}",
                )
        self.check_timeout(
            raw.get("timeout_seconds", 300), path=f"{where}.timeout_seconds", step=label
        )

        config = raw.get("config", {})
        if not isinstance(config, dict):
            self.add(
                "TYPE",
                f"step {label or index}'s config must be an object, not {_kind(config)}",
                step=label,
                path=f"{where}.config",
            )
            config = {}
            config_ok = False
        else:
            config_ok = self.check_config(block, config, where=where, label=label)

        input_schema = raw.get("input_schema")
        if input_schema is not None:
            found = _schema_problem(input_schema)
            if found is not None:
                self.add(
                    "SCHEMA",
                    f"step {label or index}'s input_schema is not a valid JSON Schema: {found[1]}",
                    step=label,
                    path=_join(where, "input_schema", found[0]),
                )
                input_schema = None

        on_error = raw.get("on_error", "fail")
        if on_error not in ON_ERROR_VALUES:
            self.add(
                "SCHEMA",
                f"step {label or index}'s on_error {on_error!r} is not one of "
                f"{', '.join(ON_ERROR_VALUES)}",
                step=label,
                path=f"{where}.on_error",
            )
        elif on_error == "default_output":
            self.check_default_output(block, raw, where=where, label=label)

        self.check_retry(raw, block, where=where, label=label)

        if not usable or not isinstance(name, str):
            return
        step = _Step(
            index=index,
            name=name,
            block=block,
            config=config,
            tool_only=raw.get("tool_only") is True,
            on_error=on_error if isinstance(on_error, str) else "fail",
            input_schema=input_schema if isinstance(input_schema, dict) else None,
            config_ok=config_ok,
        )
        if block is not None:
            step.ports, step.tools = self.ask_block(block, config, trusted=config_ok)
        self.steps[name] = step
        self.order.append(name)

    def check_config(
        self, block: Block | None, config: dict[str, Any], *, where: str, label: str | None
    ) -> bool:
        """Config against the block's schema, then the block's own checks; True when clean."""
        who = _who(label, where)
        if block is None:
            return False
        errors = sorted(
            schema_check(block.config_schema).iter_errors(config),
            key=lambda e: [str(part) for part in e.absolute_path],
        )
        for error in errors:
            inner = _join(*error.absolute_path)
            self.add(
                "SCHEMA",
                f"{who}: config{'.' + inner if inner else ''}: {error.message}",
                step=label,
                path=_join(where, "config", inner),
            )
        if errors:
            # A block's own checks may assume a config that fits its schema.
            return False
        extra = block.config_problems(config)
        for inner, message in extra:
            self.add(
                "SCHEMA",
                f"{who}: config{'.' + inner if inner else ''}: {message}",
                step=label,
                path=_join(where, "config", inner),
            )
        return not extra

    def ask_block(
        self, block: Block, config: dict[str, Any], *, trusted: bool
    ) -> tuple[tuple[str, ...] | None, list[str] | None]:
        """The step's ports and tools; ``None`` for what a broken config keeps unknown."""
        if trusted:
            return tuple(block.ports(config)), list(block.tool_names(config))
        # The config problem is already reported; a block may not make sense of such a
        # config, and guessing would add echoes of the same mistake.
        try:
            ports: tuple[str, ...] | None = tuple(block.ports(config))
        except Exception:
            ports = None
        try:
            tools: list[str] | None = [t for t in block.tool_names(config) if isinstance(t, str)]
        except Exception:
            tools = None
        return ports, tools

    def check_default_output(
        self, block: Block | None, raw: dict[str, Any], *, where: str, label: str | None
    ) -> None:
        value = raw.get("default_output")
        who = _who(label, where)
        if value is None:
            self.add(
                "SCHEMA",
                f"{who}: on_error is default_output, so default_output must be given",
                step=label,
                path=f"{where}.default_output",
            )
            return
        if block is None or not block.output_schema:
            return
        for error in schema_check(block.output_schema).iter_errors(value):
            inner = _join(*error.absolute_path)
            self.add(
                "SCHEMA",
                f"{who}: default_output{'.' + inner if inner else ''} does not fit "
                f"block {block.slug!r}'s output: {error.message}",
                step=label,
                path=_join(where, "default_output", inner),
            )

    def check_retry(
        self, raw: dict[str, Any], block: Block | None, *, where: str, label: str | None
    ) -> None:
        retry = raw.get("retry", {})
        who = _who(label, where)
        path = f"{where}.retry"
        if not isinstance(retry, dict):
            self.add(
                "TYPE",
                f"{who}: retry must be an object, not {_kind(retry)}",
                step=label,
                path=path,
            )
            return
        for key in sorted(set(retry) - RETRY_KEYS, key=str):
            self.add(
                "UNKNOWN_KEY",
                f"{who}: unknown retry key {key!r} (allowed: {', '.join(sorted(RETRY_KEYS))})",
                step=label,
                path=_join(path, str(key)),
            )
        attempts = retry.get("attempts", 1)
        if not _is_int(attempts) or not 1 <= attempts <= MAX_ATTEMPTS:
            self.add(
                "SCHEMA",
                f"{who}: retry attempts must be a whole number from 1 to {MAX_ATTEMPTS}, "
                f"not {attempts!r}",
                step=label,
                path=f"{path}.attempts",
            )
        elif (
            attempts > 1
            and block is not None
            # Per config: an http GET has no side effects, a POST has.
            and block.has_side_effects(raw["config"] if isinstance(raw.get("config"), dict) else {})
            and raw.get("idempotent") is not True
        ):
            self.add(
                "SCHEMA",
                f"{who}: block {block.slug!r} has side effects, so it may be retried "
                f"({attempts} attempts) only when the step is declared idempotent",
                step=label,
                path=f"{path}.attempts",
            )
        backoff = retry.get("backoff", "constant")
        if backoff not in BACKOFFS:
            self.add(
                "SCHEMA",
                f"{who}: retry backoff {backoff!r} is not one of {', '.join(BACKOFFS)}",
                step=label,
                path=f"{path}.backoff",
            )
        delay = retry.get("delay_seconds", 1.0)
        if not _is_number(delay) or not 0 <= delay <= MAX_DELAY_SECONDS:
            self.add(
                "SCHEMA",
                f"{who}: retry delay_seconds must be a number from 0 to "
                f"{MAX_DELAY_SECONDS}, not {delay!r}",
                step=label,
                path=f"{path}.delay_seconds",
            )
        on = retry.get("on")
        if on is None:
            return
        if not isinstance(on, list) or not all(isinstance(item, str) for item in on):
            self.add(
                "SCHEMA",
                f"{who}: retry on must be a list of error class names, not {on!r}",
                step=label,
                path=f"{path}.on",
            )
            return
        known = _error_classes()
        for position, item in enumerate(on):
            if item not in known:
                self.add(
                    "SCHEMA",
                    f"{who}: retry on names {item!r}, which no block raises "
                    f"(known: {', '.join(sorted(known))})",
                    step=label,
                    path=f"{path}.on.{position}",
                )

    # ---- layer 3: edges and the graph

    def check_edges(self) -> None:
        edges = self.document.get("edges", [])
        if not isinstance(edges, list):
            self.add("TYPE", f"edges must be a list, not {_kind(edges)}", path="edges")
            return
        seen: dict[tuple[str, str, str], int] = {}
        for index, raw in enumerate(edges):
            where = f"edges.{index}"
            if not isinstance(raw, dict):
                self.add("TYPE", f"edge {index} must be an object, not {_kind(raw)}", path=where)
                continue
            for key in sorted(set(raw) - EDGE_KEYS, key=str):
                self.add(
                    "UNKNOWN_KEY",
                    f"unknown key {key!r} in edge {index} (allowed: from, port, to)",
                    path=_join(where, str(key)),
                )
            ends: dict[str, _Step | None] = {}
            for end in ("from", "to"):
                value = raw.get(end)
                ends[end] = None
                if value is None or value == "":
                    self.add(
                        "MISSING",
                        f"edge {index} needs {end!r} (a step name)",
                        path=f"{where}.{end}",
                    )
                elif not isinstance(value, str):
                    self.add(
                        "TYPE",
                        f"edge {index}'s {end!r} must be a step name, not {_kind(value)}",
                        path=f"{where}.{end}",
                    )
                elif value not in self.steps:
                    self.add(
                        "UNKNOWN_STEP",
                        f"edge {index} {'starts' if end == 'from' else 'ends'} at step {value!r}, "
                        "which does not exist",
                        path=f"{where}.{end}",
                    )
                elif self.steps[value].tool_only:
                    # A tool-only step runs only when an agent calls it and hands its
                    # output back to that agent: no edge leads in or out (SCHEMA, since
                    # the edge itself, not its port, is what cannot be).
                    self.add(
                        "SCHEMA",
                        f"edge {index} {'starts' if end == 'from' else 'ends'} at step {value!r}, "
                        "which is tool_only: it runs only when an agent calls it, so no edge "
                        "may lead into or out of it",
                        step=value,
                        path=f"{where}.{end}",
                    )
                else:
                    ends[end] = self.steps[value]
            port = raw.get("port", "out")
            source, target = ends["from"], ends["to"]
            port_ok = True
            if not isinstance(port, str) or not port:
                self.add(
                    "TYPE",
                    f"edge {index}'s port must be a port name, not {port!r}",
                    path=f"{where}.port",
                )
                port_ok = False
            elif source is not None and source.ports is not None:
                port_ok = self.check_port(source, port, where=f"{where}.port", index=index)
            if source is None or target is None or not port_ok:
                continue
            assert isinstance(port, str)
            triple = (source.name, port, target.name)
            if triple in seen:
                self.add(
                    "SCHEMA",
                    f"edge {index} repeats edge {seen[triple]} "
                    f"({source.name} --{port}--> {target.name})",
                    step=source.name,
                    path=where,
                )
                continue
            seen[triple] = index
            self.succ.setdefault(source.name, []).append(target.name)
            self.pred.setdefault(target.name, []).append(source.name)
            self.edge_index.setdefault((source.name, target.name), index)

    def check_port(self, source: _Step, port: str, *, where: str, index: int) -> bool:
        assert source.ports is not None
        if port in source.ports:
            return True
        if port == "error":
            if source.on_error == "error_branch":
                return True
            self.add(
                "UNKNOWN_PORT",
                f"edge {index} leaves step {source.name!r} by 'error', but that port exists only "
                f"when the step's on_error is error_branch (it is {source.on_error!r})",
                step=source.name,
                path=where,
            )
            return False
        offered = list(source.ports) + (["error"] if source.on_error == "error_branch" else [])
        self.add(
            "UNKNOWN_PORT",
            f"edge {index} leaves step {source.name!r} by port {port!r}, which it does not have "
            f"(it has: {', '.join(offered)})",
            step=source.name,
            path=where,
        )
        return False

    def check_graph(self) -> None:
        flow = [name for name in self.order if not self.steps[name].tool_only]
        starts = [name for name in flow if not self.pred.get(name)]
        if not flow:
            if self.steps:
                self.add(
                    "START",
                    "every step is tool_only: a workflow needs one step that is not, to start at",
                    path="steps",
                )
            else:
                self.add(
                    "START", "the workflow has no steps: it needs one to start at", path="steps"
                )
            self.graph_trusted = False
        elif not starts:
            self.add(
                "START",
                "no step to start at: every step has an incoming edge "
                f"({', '.join(flow)}), so the graph loops back on itself",
                path="edges",
            )
            self.graph_trusted = False
        elif len(starts) > 1:
            self.add(
                "START",
                f"{len(starts)} steps have no incoming edge ({', '.join(starts)}): exactly one "
                "may, the step the run starts at; connect the others with edges",
                path="edges",
            )
            self.graph_trusted = False

        cycles = [
            component
            for component in _strongly_connected(flow, self.succ)
            if len(component) > 1 or any(n in self.succ.get(n, []) for n in component)
        ]
        on_cycle: set[str] = set()
        for component in sorted(cycles, key=lambda c: min(self.steps[n].index for n in c)):
            cycle = _cycle_in(component, self.succ, self.order)
            on_cycle |= component
            closing = self.edge_index.get((cycle[-1], cycle[0]))
            self.add(
                "CYCLE",
                f"steps {' → '.join([*cycle, cycle[0]])} form a cycle: a workflow is a graph "
                "without loops (an agent step loops on its own)",
                step=cycle[0],
                path=f"edges.{closing}" if closing is not None else "edges",
            )
        if cycles:
            self.graph_trusted = False

        reached: set[str] = set()
        pending = list(starts)
        while pending:
            node = pending.pop()
            if node in reached:
                continue
            reached.add(node)
            pending.extend(self.succ.get(node, []))
        for name in flow:
            # A cycle with no way in is reported as the cycle (or as no start) already.
            if name not in reached and name not in on_cycle:
                self.add(
                    "UNREACHABLE",
                    f"step {name!r} cannot be reached: no path of edges leads to it from "
                    f"the start ({', '.join(starts) or 'none'})",
                    step=name,
                    path=f"steps.{self.steps[name].index}",
                )

    # ---- layer 4: agents' tools

    def check_tools(self) -> None:
        all_known = True
        for name in self.order:
            step = self.steps[name]
            if step.tools is None:
                all_known = False
                continue
            raw_tools = step.config.get("tools")
            for position, tool in enumerate(step.tools):
                if (
                    isinstance(raw_tools, list)
                    and position < len(raw_tools)
                    and raw_tools[position] == tool
                ):
                    path = f"{step.where}.config.tools.{position}"
                else:
                    path = f"{step.where}.config"
                target = self.steps.get(tool)
                if target is None:
                    self.add(
                        "UNKNOWN_STEP",
                        f"step {name!r} names tool {tool!r}, but no step has that name",
                        step=name,
                        path=path,
                    )
                    continue
                self.users.setdefault(tool, []).append(name)
                if target.block is not None and not target.block.can_be_tool:
                    self.add(
                        "NOT_A_TOOL",
                        f"step {name!r} names {tool!r} as a tool, but its block "
                        f"{target.block.slug!r} cannot be a tool",
                        step=name,
                        path=path,
                    )
                elif not target.tool_only:
                    self.add(
                        "NOT_A_TOOL",
                        f"step {name!r} names {tool!r} as a tool, but a tool must be tool_only "
                        f"(run only when an agent calls it): set tool_only on step {tool!r}",
                        step=name,
                        path=path,
                    )
        if not all_known:
            return
        for name in self.order:
            step = self.steps[name]
            if step.tool_only and name not in self.users:
                self.add(
                    "UNREACHABLE",
                    f"tool_only step {name!r} is not a tool of any agent step, "
                    "so nothing can run it",
                    step=name,
                    path=step.where,
                )
        tool_steps = [n for n in self.order if self.steps[n].tool_only]
        tool_succ = {
            n: [
                t
                for t in (self.steps[n].tools or [])
                if t in self.steps and self.steps[t].tool_only
            ]
            for n in tool_steps
        }
        for component in _strongly_connected(tool_steps, tool_succ):
            if len(component) > 1 or any(n in tool_succ.get(n, []) for n in component):
                cycle = _cycle_in(component, tool_succ, self.order)
                self.add(
                    "CYCLE",
                    f"tool steps {' → '.join([*cycle, cycle[0]])} call one another in a circle",
                    step=cycle[0],
                    path=f"{self.steps[cycle[0]].where}.config",
                )

    # ---- layer 5: template references

    def ancestors(self) -> dict[str, set[str] | None]:
        """The steps whose output each step may read; ``None`` when it cannot be known."""
        result: dict[str, set[str] | None] = {}
        for name in self.order:
            if self.steps[name].tool_only:
                continue
            seen: set[str] = set()
            pending = list(self.pred.get(name, []))
            while pending:
                node = pending.pop()
                if node not in seen:
                    seen.add(node)
                    pending.extend(self.pred.get(node, []))
            result[name] = seen - {name}

        def of_tool(name: str, visiting: frozenset[str]) -> set[str] | None:
            users = self.users.get(name, [])
            if not users or name in visiting:
                return None
            found: set[str] | None = None
            for user in users:
                theirs = (
                    of_tool(user, visiting | {name})
                    if self.steps[user].tool_only
                    else result.get(user)
                )
                if theirs is None:
                    continue
                # A tool may be called from any of its agents: it may rely only on
                # what is upstream of all of them.
                found = set(theirs) if found is None else found & theirs
            return found

        for name in self.order:
            if self.steps[name].tool_only:
                result[name] = of_tool(name, frozenset())
        return result

    def check_templates(self) -> None:
        ancestors = self.ancestors()
        for name in self.order:
            step = self.steps[name]
            if step.tool_only:
                schema = step.input_schema or (step.block.input_schema if step.block else None)
            else:
                schema = self.workflow_input_schema
            self.check_refs(
                step.config,
                where=f"{step.where}.config",
                step=name,
                upstream=ancestors.get(name),
                input_schema=schema,
                input_owner=(
                    f"step {name!r}'s input schema"
                    if step.tool_only
                    else "the workflow's input_schema"
                ),
            )
        output = self.document.get("output", {})
        if isinstance(output, dict):
            flow = {n for n in self.order if not self.steps[n].tool_only}
            self.check_refs(
                output,
                where="output",
                step=None,
                upstream=flow,
                input_schema=self.workflow_input_schema,
                input_owner="the workflow's input_schema",
            )

    def check_refs(
        self,
        value: Any,
        *,
        where: str,
        step: str | None,
        upstream: set[str] | None,
        input_schema: Any,
        input_owner: str,
    ) -> None:
        refs, errors = template_scan(value, where=where)
        who = f"step {step!r}" if step else "the workflow's output"
        for error in errors:
            self.add("UNRESOLVED_REF", f"{who}: {error.message}", step=step, path=error.path)
        properties = input_schema.get("properties") if isinstance(input_schema, dict) else None
        for ref in refs:
            if ref.root == "steps":
                target = ref.step
                assert target is not None
                if target not in self.steps:
                    self.add(
                        "UNKNOWN_STEP",
                        f"{who}: {ref.text} names step {target!r}, which does not exist",
                        step=step,
                        path=ref.where,
                    )
                elif upstream is not None and self.graph_trusted and target not in upstream:
                    reason = (
                        "a tool_only step's output goes back to its agent only"
                        if self.steps[target].tool_only
                        else "it is not upstream, so it has not run when this one does"
                    )
                    if step is not None and target == step:
                        reason = "a step cannot read its own output"
                    self.add(
                        "UNRESOLVED_REF",
                        f"{who}: {ref.text} reads step {target!r}, but {reason}",
                        step=step,
                        path=ref.where,
                    )
            elif ref.root == "input" and ref.segments and isinstance(properties, dict):
                key = ref.segments[0]
                if key not in properties:
                    self.add(
                        "UNRESOLVED_REF",
                        f"{who}: {ref.text} reads input {key!r}, which {input_owner} does not "
                        f"declare (it declares: {', '.join(map(str, properties)) or 'nothing'})",
                        step=step,
                        path=ref.where,
                    )
            elif ref.root == "ctx" and step is None and ref.segments[0] in NOT_IN_OUTPUT_CTX_KEYS:
                self.add(
                    "UNRESOLVED_REF",
                    f"{who}: {ref.text} belongs to a running step; the output mapping "
                    f"may read ctx but {', '.join(NOT_IN_OUTPUT_CTX_KEYS)}",
                    step=step,
                    path=ref.where,
                )
            elif ref.root == "ctx" and ref.segments[0] in SYSTEM_CTX_KEYS and not self.is_system:
                self.add(
                    "UNRESOLVED_REF",
                    f"{who}: {ref.text} is only for system workflows (is_system true); "
                    "a user workflow cannot reach the internal API",
                    step=step,
                    path=ref.where,
                )

    # ---- layer 6: subflows

    def check_subflows(self) -> None:
        if self.subflow_lookup is None:
            return
        own_key = document_key(self.document)
        for name in self.order:
            step = self.steps[name]
            if step.block is None or not step.config_ok:
                continue
            ref = step.block.subflow_ref(step.config)
            if ref is None:
                continue
            where = f"{step.where}.config"
            target = self.subflow_lookup(ref)
            if target is None:
                self.add(
                    "SUBFLOW",
                    f"step {name!r} runs workflow {ref!r}, which does not exist",
                    step=name,
                    path=where,
                )
                continue
            if own_key and (ref == own_key or target.key == own_key):
                self.add(
                    "SUBFLOW",
                    f"step {name!r} runs workflow {ref!r}, which is this workflow: "
                    "a workflow cannot run itself",
                    step=name,
                    path=where,
                )
                continue
            if not target.published:
                self.add(
                    "SUBFLOW",
                    f"step {name!r} runs workflow {ref!r}, which is not published: subflows run "
                    "published versions only",
                    step=name,
                    path=where,
                )
            mapped = step.config.get("input", {})
            schema = target.input_schema if isinstance(target.input_schema, dict) else {}
            properties = schema.get("properties")
            if not isinstance(mapped, dict):
                continue
            if isinstance(properties, dict):
                for key in mapped:
                    if key not in properties:
                        self.add(
                            "SUBFLOW",
                            f"step {name!r} passes input {key!r} to workflow {ref!r}, whose "
                            f"input_schema does not declare it (it declares: "
                            f"{', '.join(map(str, properties)) or 'nothing'})",
                            step=name,
                            path=f"{where}.input.{key}",
                        )
            required = schema.get("required")
            if isinstance(required, list):
                missing = [key for key in required if key not in mapped]
                if missing:
                    self.add(
                        "SUBFLOW",
                        f"step {name!r} does not pass {', '.join(map(repr, missing))}, which "
                        f"workflow {ref!r} requires",
                        step=name,
                        path=f"{where}.input",
                    )

    def run(self) -> list[Problem]:
        self.check_document()
        self.check_steps()
        if not isinstance(self.document.get("steps"), list):
            # Without steps, every edge and reference would be reported as unknown: noise.
            return self.problems
        self.check_edges()
        self.check_graph()
        self.check_tools()
        self.check_templates()
        self.check_subflows()
        return self.problems


def graph_validate(
    document: dict[str, Any],
    *,
    blocks: Mapping[str, Block] | None = None,
    subflow_lookup: SubflowLookup | None = None,
) -> list[Problem]:
    """Every problem with a workflow document, in document order; ``[]`` when it is valid.

    ``blocks`` is the block catalogue (default: every registered block); ``subflow_lookup``
    finds the workflow a subflow step names (by key or id) — without it subflow targets
    are not checked. Pure: reads no database and no settings.
    """
    if not isinstance(document, dict):
        return [
            problem("TYPE", f"a workflow document is a JSON object, not {_kind(document)}", path="")
        ]
    catalogue = blocks_all() if blocks is None else blocks
    return _Validator(document, catalogue, subflow_lookup).run()
