"""Layer 2, a step's block settings: its config against the block, on_error and retry."""

from __future__ import annotations

from typing import Any

from bizagent.llm.structured import schema_check
from workflows.blocks import Block
from workflows.blocks.base import BlockError
from workflows.graph.base import _is_int, _is_number, _join, _kind, _State, _who

#: ``workflows.models.OnError``'s values, repeated here to keep this module free of the
#: ORM; a test holds the two equal.
ON_ERROR_VALUES = ("fail", "continue", "error_branch", "default_output")
BACKOFFS = ("constant", "exponential")
MAX_ATTEMPTS = 10
MAX_DELAY_SECONDS = 3600

RETRY_KEYS = frozenset({"attempts", "backoff", "delay_seconds", "on"})


def _error_classes() -> set[str]:
    """Every ``error_class`` a block can raise (subclasses defined by blocks included)."""
    found: set[str] = set()
    pending: list[type[BlockError]] = [BlockError]
    while pending:
        cls = pending.pop()
        found.add(cls.error_class)
        pending.extend(cls.__subclasses__())
    return found


class _ConfigChecks(_State):
    """A step's settings judged against its block: config (and the ports and tools it
    gives), default_output, retry."""

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
