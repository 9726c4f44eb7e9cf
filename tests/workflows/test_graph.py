"""The one validator: every broken document refused with all its problems, valid ones pass.

The blocks are the small local catalogue in ``graph_blocks`` (passed as ``blocks=``), so
these tests do not depend on the real blocks.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.workflows.graph_blocks import GRAPH_BLOCKS
from workflows import graph
from workflows.graph import SubflowTarget, document_normalise, graph_validate

Doc = dict[str, Any]


def linear() -> Doc:
    """a -> b, the smallest valid workflow with an edge."""
    return {
        "name": "Linear",
        "input_schema": {"type": "object", "properties": {"question": {"type": "string"}}},
        "output": {"answer": "{{ steps.b.output.text }}"},
        "steps": [
            {"name": "a", "block": "echo", "config": {"text": "{{ input.question }}"}},
            {"name": "b", "block": "echo", "config": {"text": "{{ steps.a.output.text }}"}},
        ],
        "edges": [{"from": "a", "to": "b"}],
    }


def branching() -> Doc:
    """classify -true-> yes, -false-> no; both -> join, which reads classify."""
    return {
        "name": "Branching",
        "steps": [
            {"name": "classify", "block": "cond", "config": {"value": "{{ input.kind }}"}},
            {"name": "yes", "block": "echo", "config": {"text": "yes"}},
            {"name": "no", "block": "echo", "config": {"text": "no"}},
            {
                "name": "join",
                "block": "echo",
                "config": {"text": "{{ steps.classify.port }} {{ steps.yes.status }}"},
            },
        ],
        "edges": [
            {"from": "classify", "port": "true", "to": "yes"},
            {"from": "classify", "port": "false", "to": "no"},
            {"from": "yes", "to": "join"},
            {"from": "no", "to": "join"},
        ],
    }


def switching() -> Doc:
    return {
        "name": "Switch",
        "steps": [
            {"name": "route", "block": "switch", "config": {"value": "x", "cases": ["a", "b"]}},
            {"name": "on_a", "block": "echo"},
            {"name": "on_b", "block": "echo"},
            {"name": "other", "block": "echo"},
        ],
        "edges": [
            {"from": "route", "port": "case:a", "to": "on_a"},
            {"from": "route", "port": "case:b", "to": "on_b"},
            {"from": "route", "port": "default", "to": "other"},
        ],
    }


def with_agent() -> Doc:
    """prepare -> helper (an agent) whose tools are two tool_only steps."""
    return {
        "name": "Support bot",
        "input_schema": {"type": "object", "properties": {"question": {"type": "string"}}},
        "output": {"answer": "{{ steps.helper.output.text }}"},
        "steps": [
            {"name": "prepare", "block": "echo", "config": {"text": "{{ input.question }}"}},
            {
                "name": "helper",
                "block": "agent",
                "config": {
                    "prompt": "{{ steps.prepare.output.text }}",
                    "tools": ["lookup", "notify"],
                },
            },
            {
                "name": "lookup",
                "block": "echo",
                "tool_only": True,
                "input_schema": {"type": "object", "properties": {"topic": {"type": "string"}}},
                "config": {"text": "{{ input.topic }} for {{ steps.prepare.output.text }}"},
            },
            {
                "name": "notify",
                "block": "send",
                "tool_only": True,
                "idempotent": True,
                "retry": {"attempts": 3, "backoff": "exponential", "delay_seconds": 1.5},
                "config": {"to": "{{ input.q }}"},
            },
        ],
        "edges": [{"from": "prepare", "to": "helper"}],
    }


NOTIFY = SubflowTarget(
    ref="notify",
    workflow_id=7,
    input_schema={
        "type": "object",
        "properties": {"to": {"type": "string"}, "text": {"type": "string"}},
        "required": ["to"],
    },
    output={"sent": "{{ steps.send.output }}"},
    published=True,
    key="notify",
)
DRAFT = dataclasses.replace(
    NOTIFY, ref="draft-flow", workflow_id=8, published=False, key="draft-flow"
)
MYSELF = dataclasses.replace(NOTIFY, ref=9, workflow_id=9, key="caller")


def lookup(ref: str | int) -> SubflowTarget | None:
    return {"notify": NOTIFY, "draft-flow": DRAFT, 9: MYSELF}.get(ref)


def with_subflow() -> Doc:
    return {
        "name": "Caller",
        "input_schema": {"type": "object", "properties": {"email": {"type": "string"}}},
        "steps": [
            {
                "name": "tell",
                "block": "sub",
                "config": {
                    "workflow": "notify",
                    "input": {"to": "{{ input.email }}", "text": "hi"},
                },
            }
        ],
    }


def error_handling() -> Doc:
    return {
        "name": "Error handling",
        "is_system": True,
        "steps": [
            {
                "name": "call",
                "block": "echo",
                "on_error": "error_branch",
                "config": {"text": "{{ ctx.internal_api_token }} {{ ctx.internal_base_url }}"},
            },
            {
                "name": "fallback",
                "block": "echo",
                "on_error": "default_output",
                "default_output": {"text": "sorry"},
            },
            {"name": "done", "block": "echo", "on_error": "continue"},
        ],
        "edges": [
            {"from": "call", "port": "error", "to": "fallback"},
            {"from": "call", "to": "done"},
        ],
    }


def problems(document: Any, **kwargs: Any) -> list[tuple[str, str | None, str]]:
    found = graph_validate(document, blocks=GRAPH_BLOCKS, **kwargs)
    for item in found:
        assert set(item) == {"code", "message", "step", "path"}
        assert item["message"]
    return sorted((p["code"], p["step"], p["path"]) for p in found)


# --- valid documents ---------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [linear, branching, switching, with_agent, with_subflow, error_handling]
)
def test_it_accepts_valid_documents(make: Callable[[], Doc]) -> None:
    assert graph_validate(make(), blocks=GRAPH_BLOCKS, subflow_lookup=lookup) == []


def test_it_accepts_a_single_step_with_only_name_and_block() -> None:
    assert problems({"name": "One", "steps": [{"name": "only", "block": "echo"}]}) == []


def test_it_accepts_a_fully_written_step() -> None:
    doc = linear()
    doc["steps"][0].update(
        {
            "description": "first",
            "input_schema": None,
            "retry": {"attempts": 2, "backoff": "constant", "delay_seconds": 0, "on": ["timeout"]},
            "on_error": "fail",
            "default_output": None,
            "timeout_seconds": 60,
            "tool_only": False,
            "idempotent": False,
        }
    )
    doc.update({"key": "linear-2", "description": "", "is_system": False, "timeout_seconds": 60})
    assert problems(doc) == []


def test_a_normalised_document_is_still_valid() -> None:
    assert problems(document_normalise(with_agent())) == []


# --- the table of broken documents: one (at least) per code -------------------------


def edit(make: Callable[[], Doc], change: Callable[[Doc], Any]) -> Callable[[], Doc]:
    def build() -> Doc:
        doc = make()
        change(doc)
        return doc

    return build


def _drop(key: str, where: Callable[[Doc], dict[str, Any]]) -> Callable[[Doc], Any]:
    return lambda doc: where(doc).pop(key)


def step(index: int) -> Callable[[Doc], dict[str, Any]]:
    return lambda doc: doc["steps"][index]


BROKEN: list[Any] = [
    # shape
    pytest.param(lambda: ["not", "an", "object"], [("TYPE", None, "")], id="TYPE-document"),
    pytest.param(
        edit(linear, lambda d: d.update(colour="red")),
        [("UNKNOWN_KEY", None, "colour")],
        id="UNKNOWN_KEY-top",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(colour="red")),
        [("UNKNOWN_KEY", "a", "steps.0.colour")],
        id="UNKNOWN_KEY-step",
    ),
    pytest.param(
        edit(linear, lambda d: d["edges"][0].update(label="x")),
        [("UNKNOWN_KEY", None, "edges.0.label")],
        id="UNKNOWN_KEY-edge",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(retry={"tries": 2})),
        [("UNKNOWN_KEY", "a", "steps.0.retry.tries")],
        id="UNKNOWN_KEY-retry",
    ),
    pytest.param(
        edit(linear, _drop("name", lambda d: d)), [("MISSING", None, "name")], id="MISSING-name"
    ),
    pytest.param(lambda: {"name": "No steps"}, [("MISSING", None, "steps")], id="MISSING-steps"),
    pytest.param(
        edit(linear, lambda d: d["steps"].append({"block": "echo"})),
        [("MISSING", None, "steps.2.name")],
        id="MISSING-step-name",
    ),
    pytest.param(
        edit(linear, _drop("block", step(1))),
        [("MISSING", "b", "steps.1.block")],
        id="MISSING-block",
    ),
    pytest.param(
        edit(linear, _drop("to", lambda d: d["edges"][0])),
        [("MISSING", None, "edges.0.to"), ("START", None, "edges")],
        id="MISSING-edge-to",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(steps={"a": {}})),
        [("TYPE", None, "steps")],
        id="TYPE-steps",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(edges="a->b")),
        [("START", None, "edges"), ("TYPE", None, "edges")],
        id="TYPE-edges",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(config="text")),
        [("TYPE", "a", "steps.0.config")],
        id="TYPE-config",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(tool_only="no")),
        [("TYPE", "a", "steps.0.tool_only")],
        id="TYPE-tool_only",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(timeout_seconds="60")),
        [("TYPE", "a", "steps.0.timeout_seconds")],
        id="TYPE-timeout",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(retry=None)),
        [("TYPE", "a", "steps.0.retry")],
        id="TYPE-retry-null",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(is_system="yes")),
        [("TYPE", None, "is_system")],
        id="TYPE-is_system",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"].append("c")), [("TYPE", None, "steps.2")], id="TYPE-step"
    ),
    pytest.param(
        edit(linear, lambda d: d.update(output="{{ steps.b.output }}")),
        [("TYPE", None, "output")],
        id="TYPE-output",
    ),
    pytest.param(
        edit(
            linear,
            lambda d: (
                d["steps"][1].update(name="B-1"),
                d["edges"][0].update(to="B-1"),
                d.update(output={}),
            ),
        ),
        [("BAD_NAME", "B-1", "steps.1.name")],
        id="BAD_NAME",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"].append({"name": "a", "block": "echo"})),
        [("DUPLICATE_STEP", "a", "steps.2.name")],
        id="DUPLICATE_STEP",
    ),
    # blocks and configs
    pytest.param(
        edit(linear, lambda d: d["steps"][1].update(block="lmm")),
        [("UNKNOWN_BLOCK", "b", "steps.1.block")],
        id="UNKNOWN_BLOCK",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][1].update(config={"text": 5, "count": 0, "zz": 1})),
        [
            ("SCHEMA", "b", "steps.1.config"),
            ("SCHEMA", "b", "steps.1.config.count"),
            ("SCHEMA", "b", "steps.1.config.text"),
        ],
        id="SCHEMA-config-every-error",
    ),
    pytest.param(
        edit(switching, lambda d: d["steps"][0]["config"].pop("cases")),
        [("SCHEMA", "route", "steps.0.config")],
        id="SCHEMA-config-required",
    ),
    pytest.param(
        edit(switching, lambda d: d["steps"][0]["config"].update(cases=["a", "b", "a"])),
        [("SCHEMA", "route", "steps.0.config.cases.2")],
        id="SCHEMA-config_problems",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0].update(input_schema={"type": "nonsense"})),
        [("SCHEMA", "a", "steps.0.input_schema.type")],
        id="SCHEMA-step-input_schema",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(input_schema={"properties": []})),
        [("SCHEMA", None, "input_schema.properties")],
        id="SCHEMA-workflow-input_schema",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(input_schema={"type": "array"})),
        [("SCHEMA", None, "input_schema.type")],
        id="SCHEMA-workflow-input-not-object",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][1].update(on_error="ignore")),
        [("SCHEMA", "b", "steps.1.on_error")],
        id="SCHEMA-on_error",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][1].update(on_error="default_output")),
        [("SCHEMA", "b", "steps.1.default_output")],
        id="SCHEMA-default_output-missing",
    ),
    pytest.param(
        edit(
            linear,
            lambda d: d["steps"][1].update(on_error="default_output", default_output={"text": 5}),
        ),
        [("SCHEMA", "b", "steps.1.default_output.text")],
        id="SCHEMA-default_output-shape",
    ),
    pytest.param(
        edit(
            linear,
            lambda d: d["steps"][1].update(
                retry={"attempts": 11, "backoff": "linear", "delay_seconds": -1, "on": "timeout"}
            ),
        ),
        [
            ("SCHEMA", "b", "steps.1.retry.attempts"),
            ("SCHEMA", "b", "steps.1.retry.backoff"),
            ("SCHEMA", "b", "steps.1.retry.delay_seconds"),
            ("SCHEMA", "b", "steps.1.retry.on"),
        ],
        id="SCHEMA-retry-shape",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][1].update(retry={"attempts": 0, "on": ["timeuot"]})),
        [("SCHEMA", "b", "steps.1.retry.attempts"), ("SCHEMA", "b", "steps.1.retry.on.0")],
        id="SCHEMA-retry-values",
    ),
    pytest.param(
        edit(with_agent, lambda d: d["steps"][3].update(idempotent=False)),
        [("SCHEMA", "notify", "steps.3.retry.attempts")],
        id="SCHEMA-side-effects-retried-not-idempotent",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(timeout_seconds=0)),
        [("SCHEMA", None, "timeout_seconds")],
        id="SCHEMA-timeout",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(key="Not A Key")),
        [("SCHEMA", None, "key")],
        id="SCHEMA-key",
    ),
    pytest.param(
        edit(with_agent, lambda d: d["edges"].append({"from": "helper", "to": "lookup"})),
        [("SCHEMA", "lookup", "edges.1.to")],
        id="SCHEMA-edge-into-tool_only",
    ),
    pytest.param(
        edit(linear, lambda d: d["edges"].append({"from": "a", "port": "out", "to": "b"})),
        [("SCHEMA", "a", "edges.1")],
        id="SCHEMA-edge-repeated",
    ),
    # edges, ports and the graph
    pytest.param(
        edit(linear, lambda d: d["edges"][0].update(to="c")),
        [("START", None, "edges"), ("UNKNOWN_STEP", None, "edges.0.to")],
        id="UNKNOWN_STEP-edge",
    ),
    pytest.param(
        edit(with_agent, lambda d: d["steps"][1]["config"]["tools"].append("search")),
        [("UNKNOWN_STEP", "helper", "steps.1.config.tools.2")],
        id="UNKNOWN_STEP-tool",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][1]["config"].update(text="{{ steps.ghost.output }}")),
        [("UNKNOWN_STEP", "b", "steps.1.config.text")],
        id="UNKNOWN_STEP-template",
    ),
    pytest.param(
        edit(linear, lambda d: d["edges"][0].update(port="true")),
        [("START", None, "edges"), ("UNKNOWN_PORT", "a", "edges.0.port")],
        id="UNKNOWN_PORT",
    ),
    pytest.param(
        edit(linear, lambda d: d["edges"][0].update(port="error")),
        [("START", None, "edges"), ("UNKNOWN_PORT", "a", "edges.0.port")],
        id="UNKNOWN_PORT-error-without-error_branch",
    ),
    pytest.param(
        edit(switching, lambda d: d["edges"][1].update(port="case:c")),
        [("START", None, "edges"), ("UNKNOWN_PORT", "route", "edges.1.port")],
        id="UNKNOWN_PORT-switch-case",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(edges=[])), [("START", None, "edges")], id="START-several"
    ),
    pytest.param(
        edit(linear, lambda d: d["edges"].append({"from": "b", "to": "a"})),
        [("CYCLE", "a", "edges.1"), ("START", None, "edges")],
        id="START-none",
    ),
    pytest.param(
        lambda: {"name": "Empty", "steps": []}, [("START", None, "steps")], id="START-no-steps"
    ),
    pytest.param(
        edit(
            linear,
            lambda d: (
                d["steps"].extend([{"name": n, "block": "echo"} for n in ("c", "d", "e")]),
                d["edges"].extend(
                    [{"from": "c", "to": "d"}, {"from": "d", "to": "c"}, {"from": "d", "to": "e"}]
                ),
            ),
        ),
        [("CYCLE", "c", "edges.2"), ("UNREACHABLE", "e", "steps.4")],
        id="UNREACHABLE-behind-a-cycle",
    ),
    pytest.param(
        edit(with_agent, lambda d: d["steps"][1]["config"].update(tools=["lookup"])),
        [("UNREACHABLE", "notify", "steps.3")],
        id="UNREACHABLE-tool_only-unused",
    ),
    pytest.param(
        edit(
            linear,
            lambda d: (
                d["steps"].append({"name": "c", "block": "echo"}),
                d["edges"].extend([{"from": "b", "to": "c"}, {"from": "c", "to": "b"}]),
            ),
        ),
        [("CYCLE", "b", "edges.2")],
        id="CYCLE",
    ),
    pytest.param(
        edit(linear, lambda d: d["edges"].append({"from": "b", "to": "b"})),
        [("CYCLE", "b", "edges.1")],
        id="CYCLE-self-loop",
    ),
    pytest.param(
        edit(
            with_agent,
            lambda d: (
                d["steps"].extend(
                    [
                        {
                            "name": "inner",
                            "block": "agent",
                            "tool_only": True,
                            "config": {"tools": ["deeper"]},
                        },
                        {
                            "name": "deeper",
                            "block": "agent",
                            "tool_only": True,
                            "config": {"tools": ["inner"]},
                        },
                    ]
                )
                or d["steps"][1]["config"]["tools"].append("inner")
            ),
        ),
        [("CYCLE", "inner", "steps.4.config")],
        id="CYCLE-tools",
    ),
    # tools
    pytest.param(
        edit(with_agent, lambda d: d["steps"][2].update(tool_only=False)),
        [
            ("NOT_A_TOOL", "helper", "steps.1.config.tools.0"),
            ("START", None, "edges"),
            # Now a step of the flow, it reads the workflow's input, which has no topic.
            ("UNRESOLVED_REF", "lookup", "steps.2.config.text"),
        ],
        id="NOT_A_TOOL-not-tool_only",
    ),
    pytest.param(
        edit(
            with_agent,
            lambda d: (
                d["steps"].append({"name": "secret", "block": "hidden", "tool_only": True}),
                d["steps"][1]["config"]["tools"].append("secret"),
            ),
        ),
        [("NOT_A_TOOL", "helper", "steps.1.config.tools.2")],
        id="NOT_A_TOOL-block-cannot-be-a-tool",
    ),
    # template references
    pytest.param(
        edit(linear, lambda d: d["steps"][1]["config"].update(text="{{ steps.a.output | upper }}")),
        [("UNRESOLVED_REF", "b", "steps.1.config.text")],
        id="UNRESOLVED_REF-malformed",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0]["config"].update(text="{{ steps.b.output }}")),
        [("UNRESOLVED_REF", "a", "steps.0.config.text")],
        id="UNRESOLVED_REF-downstream",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][1]["config"].update(text="{{ steps.b.output }}")),
        [("UNRESOLVED_REF", "b", "steps.1.config.text")],
        id="UNRESOLVED_REF-own-output",
    ),
    pytest.param(
        edit(branching, lambda d: d["steps"][2]["config"].update(text="{{ steps.yes.output }}")),
        [("UNRESOLVED_REF", "no", "steps.2.config.text")],
        id="UNRESOLVED_REF-sibling-branch",
    ),
    pytest.param(
        edit(
            with_agent, lambda d: d["steps"][2]["config"].update(text="{{ steps.helper.output }}")
        ),
        [("UNRESOLVED_REF", "lookup", "steps.2.config.text")],
        id="UNRESOLVED_REF-tool-reads-its-agent",
    ),
    pytest.param(
        edit(
            with_agent,
            lambda d: d["steps"][1]["config"].update(prompt="{{ steps.lookup.output }}"),
        ),
        [("UNRESOLVED_REF", "helper", "steps.1.config.prompt")],
        id="UNRESOLVED_REF-agent-reads-its-tool",
    ),
    pytest.param(
        edit(linear, lambda d: d["steps"][0]["config"].update(text="{{ input.questoin }}")),
        [("UNRESOLVED_REF", "a", "steps.0.config.text")],
        id="UNRESOLVED_REF-input-key",
    ),
    pytest.param(
        edit(with_agent, lambda d: d["steps"][2]["config"].update(text="{{ input.question }}")),
        [("UNRESOLVED_REF", "lookup", "steps.2.config.text")],
        id="UNRESOLVED_REF-tool-input-key",
    ),
    pytest.param(
        edit(with_agent, lambda d: d.update(output={"x": "{{ steps.lookup.output }}"})),
        [("UNRESOLVED_REF", None, "output.x")],
        id="UNRESOLVED_REF-output-reads-a-tool",
    ),
    pytest.param(
        edit(linear, lambda d: d.update(output={"x": ["{{ input.nope }}", "{{ vars }}"]})),
        [("UNRESOLVED_REF", None, "output.x.0")],
        id="UNRESOLVED_REF-output-input-key",
    ),
    pytest.param(
        edit(
            error_handling,
            lambda d: d.update(
                output={
                    "run": "{{ ctx.run_id }}",
                    "step": "{{ ctx.step_name }}",
                    "token": "{{ ctx.internal_api_token }}",
                }
            ),
        ),
        [("UNRESOLVED_REF", None, "output.step"), ("UNRESOLVED_REF", None, "output.token")],
        id="UNRESOLVED_REF-output-step-or-secret-ctx",
    ),
    pytest.param(
        edit(error_handling, lambda d: d.update(is_system=False)),
        [
            ("UNRESOLVED_REF", "call", "steps.0.config.text"),
            ("UNRESOLVED_REF", "call", "steps.0.config.text"),
        ],
        id="UNRESOLVED_REF-internal-ctx-in-user-workflow",
    ),
    # subflows
    pytest.param(
        edit(with_subflow, lambda d: d["steps"][0]["config"].update(workflow="nowhere")),
        [("SUBFLOW", "tell", "steps.0.config")],
        id="SUBFLOW-unknown",
    ),
    pytest.param(
        edit(with_subflow, lambda d: d["steps"][0]["config"].update(workflow="draft-flow")),
        [("SUBFLOW", "tell", "steps.0.config")],
        id="SUBFLOW-not-published",
    ),
    pytest.param(
        edit(with_subflow, lambda d: d["steps"][0]["config"].update(workflow=9)),
        [("SUBFLOW", "tell", "steps.0.config")],
        id="SUBFLOW-recursion",
    ),
    pytest.param(
        edit(with_subflow, lambda d: d["steps"][0]["config"].update(input={"too": "x"})),
        [
            ("SUBFLOW", "tell", "steps.0.config.input"),
            ("SUBFLOW", "tell", "steps.0.config.input.too"),
        ],
        id="SUBFLOW-input-keys",
    ),
]


@pytest.mark.parametrize(("make", "expected"), BROKEN)
def test_it_refuses_a_broken_document(make: Callable[[], Any], expected: list[Any]) -> None:
    assert problems(make(), subflow_lookup=lookup) == sorted(expected)


def test_every_code_is_covered_by_the_table() -> None:
    codes = {code for param in BROKEN for code, _step, _path in param.values[1]}
    assert codes == {
        "UNKNOWN_KEY",
        "MISSING",
        "TYPE",
        "BAD_NAME",
        "DUPLICATE_STEP",
        "UNKNOWN_BLOCK",
        "SCHEMA",
        "UNKNOWN_STEP",
        "UNKNOWN_PORT",
        "START",
        "UNREACHABLE",
        "CYCLE",
        "UNRESOLVED_REF",
        "NOT_A_TOOL",
        "SUBFLOW",
    }


# --- every problem at once, messages a person understands --------------------------


def test_it_returns_every_problem_of_a_document_at_once() -> None:
    doc = linear()
    doc["colour"] = "red"
    doc["steps"][0]["block"] = "lmm"
    doc["steps"][1]["config"] = {"text": 5}
    doc["steps"].append({"name": "Bad", "block": "echo", "config": {"text": "{{ nope }}"}})
    doc["edges"].append({"from": "a", "to": "ghost"})
    assert problems(doc) == sorted(
        [
            ("UNKNOWN_KEY", None, "colour"),
            ("UNKNOWN_BLOCK", "a", "steps.0.block"),
            ("SCHEMA", "b", "steps.1.config.text"),
            ("BAD_NAME", "Bad", "steps.2.name"),
            ("UNRESOLVED_REF", "Bad", "steps.2.config.text"),
            ("UNKNOWN_STEP", None, "edges.1.to"),
            ("START", None, "edges"),
        ]
    )


def messages(document: Any, **kwargs: Any) -> dict[str, str]:
    return {
        p["path"]: p["message"] for p in graph_validate(document, blocks=GRAPH_BLOCKS, **kwargs)
    }


def test_messages_name_the_offending_value() -> None:
    doc = linear()
    doc["steps"][1]["block"] = "lmm"
    doc["steps"].append({"name": "c", "block": "echo", "retry": {"attempts": 11}})
    doc["edges"].append({"from": "b", "to": "c"})
    found = messages(doc)
    assert "'lmm'" in found["steps.1.block"]
    assert "echo" in found["steps.1.block"]  # the known blocks are listed
    assert "11" in found["steps.2.retry.attempts"]


def test_a_step_without_a_name_is_named_by_its_position() -> None:
    doc = linear()
    doc["steps"].append({"block": "echo", "config": {"text": 1}})
    found = messages(doc)
    assert found["steps.2.name"] == "step 2 needs a name"
    assert found["steps.2.config.text"].startswith("step 2: config.text:")


def test_a_start_problem_names_the_steps() -> None:
    doc = linear()
    doc["edges"] = []
    assert "(a, b)" in messages(doc)["edges"]


def test_a_cycle_problem_names_the_steps_on_it_in_order() -> None:
    doc = linear()
    doc["steps"].append({"name": "c", "block": "echo"})
    doc["edges"] += [{"from": "b", "to": "c"}, {"from": "c", "to": "b"}]
    assert "b → c → b" in messages(doc)["edges.2"]


def test_not_a_tool_says_a_tool_must_be_tool_only() -> None:
    doc = with_agent()
    doc["steps"][2]["tool_only"] = False
    doc["edges"].append({"from": "prepare", "to": "lookup"})
    assert "tool must be tool_only" in messages(doc)["steps.1.config.tools.0"]


def test_side_effect_retry_message_says_to_declare_it_idempotent() -> None:
    doc = with_agent()
    doc["steps"][3]["idempotent"] = False
    message = messages(doc)["steps.3.retry.attempts"]
    assert "side effects" in message and "idempotent" in message


def test_config_schema_errors_say_which_value_is_wrong() -> None:
    doc = linear()
    doc["steps"][1]["config"] = {"text": 5}
    assert "5 is not of type 'string'" in messages(doc)["steps.1.config.text"]


# --- what depends on what ---------------------------------------------------------


def test_without_a_subflow_lookup_subflow_targets_are_not_checked() -> None:
    doc = with_subflow()
    doc["steps"][0]["config"]["workflow"] = "nowhere"
    assert problems(doc) == []


def test_a_subflow_step_names_its_own_workflow_by_key() -> None:
    doc = with_subflow()
    doc["key"] = "notify"
    assert problems(doc, subflow_lookup=lookup) == [("SUBFLOW", "tell", "steps.0.config")]
    assert "cannot run itself" in messages(doc, subflow_lookup=lookup)["steps.0.config"]


def test_a_bad_config_does_not_echo_into_port_and_tool_problems() -> None:
    """A switch whose cases are missing gets one SCHEMA problem, not unknown ports too."""
    doc = switching()
    doc["steps"][0]["config"] = {"value": "x", "cases": "a,b"}
    assert problems(doc) == [("SCHEMA", "route", "steps.0.config.cases")]


def test_a_tool_reads_only_what_is_upstream_of_every_agent_using_it() -> None:
    doc = with_agent()
    doc["steps"].append({"name": "second", "block": "agent", "config": {"tools": ["lookup"]}})
    doc["steps"][0]["config"]["text"] = "x"
    doc["edges"] = [{"from": "prepare", "to": "helper"}, {"from": "prepare", "to": "second"}]
    assert problems(doc) == []
    doc["edges"] = [{"from": "prepare", "to": "helper"}, {"from": "helper", "to": "second"}]
    # second may see helper, but lookup is also helper's tool: prepare is all both share.
    doc["steps"][2]["config"]["text"] = "{{ steps.helper.output }}"
    assert problems(doc) == [("UNRESOLVED_REF", "lookup", "steps.2.config.text")]


def test_the_default_catalogue_is_every_registered_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(graph, "blocks_all", lambda: GRAPH_BLOCKS)
    assert graph_validate(linear()) == []
    monkeypatch.setattr(graph, "blocks_all", lambda: {})
    assert {p["code"] for p in graph_validate(linear())} == {"UNKNOWN_BLOCK"}


def test_it_does_not_change_the_document() -> None:
    doc = with_agent()
    before = copy.deepcopy(doc)
    graph_validate(doc, blocks=GRAPH_BLOCKS)
    assert doc == before


def test_it_is_pure_no_orm_no_settings() -> None:
    # The validator is a package: every one of its modules must stay pure.
    trees = [
        ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(Path(graph.__file__).parent.glob("*.py"))
    ]
    assert len(trees) > 1
    imported = {
        node.module
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module
    } | {
        alias.name
        for tree in trees
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    forbidden = {"django.db", "django.conf", "workflows.models", "workflows.selectors"}
    assert not {m for m in imported if any(m == f or m.startswith(f + ".") for f in forbidden)}


def test_on_error_values_match_the_model_choices() -> None:
    from workflows.models import OnError

    assert set(graph.ON_ERROR_VALUES) == set(OnError.values)


# --- document_normalise and SubflowTarget -----------------------------------------


def test_document_normalise_fills_every_default() -> None:
    doc = {
        "name": "N",
        "steps": [{"name": "a", "block": "echo"}, {"name": "b", "block": "echo"}],
        "edges": [{"from": "a", "to": "b"}],
    }
    assert document_normalise(doc) == {
        "name": "N",
        "description": "",
        "input_schema": {"type": "object"},
        "output": {},
        "is_system": False,
        "timeout_seconds": 3600,
        "steps": [
            {
                "name": name,
                "block": "echo",
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
            for name in ("a", "b")
        ],
        "edges": [{"from": "a", "port": "out", "to": "b"}],
    }


def test_document_normalise_keeps_given_values_and_leaves_the_original_alone() -> None:
    doc = with_agent()
    before = copy.deepcopy(doc)
    normal = document_normalise(doc)
    assert doc == before
    assert normal["steps"][3]["retry"] == before["steps"][3]["retry"]
    assert normal["steps"][2]["tool_only"] is True
    normal["steps"][0]["config"]["text"] = "changed"
    assert doc["steps"][0]["config"]["text"] == "{{ input.question }}"


def test_document_normalise_leaves_wrong_shapes_for_the_validator() -> None:
    assert document_normalise({"steps": "x", "edges": [1]}) == {
        "description": "",
        "input_schema": {"type": "object"},
        "output": {},
        "is_system": False,
        "timeout_seconds": 3600,
        "steps": "x",
        "edges": [1],
    }


def test_subflow_target_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        NOTIFY.published = False  # type: ignore[misc]
