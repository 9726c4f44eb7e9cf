"""Layers 1 and 2, the shape of the JSON: keys, types and names, of the document and each step."""

from __future__ import annotations

from typing import Any

from workflows.blocks import Block
from workflows.graph.base import _is_int, _join, _kind, _schema_problem, _Step
from workflows.graph.config import ON_ERROR_VALUES, _ConfigChecks
from workflows.graph.document import _KEY, DOCUMENT_KEYS, STEP_KEYS, STEP_NAME


class _ShapeChecks(_ConfigChecks):
    """The document's and each step's keys, types and names (a step's block settings are
    checked by ``_ConfigChecks``, which ``check_step`` calls)."""

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
