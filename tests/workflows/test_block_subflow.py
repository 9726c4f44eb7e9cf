"""subflow: maps inputs, calls ctx.run_subflow, returns the child's output in full."""

from __future__ import annotations

import pytest

from tests.workflows.blockctx import block_run
from workflows.blocks import block_get
from workflows.blocks.base import BlockConfigError, BlockUpstreamError


def test_it_runs_the_workflow_with_mapped_input_and_returns_its_output_in_full(block_ctx):
    child_output = {"sent": True, "channels": ["mail", "chat"], "detail": {"id": 9}}
    block_ctx.subflow_handler = {"notify": child_output}
    result = block_run(
        "subflow",
        {
            "workflow": "notify",
            "input": {"to": "{{ input.email }}", "subject": "Order {{ vars.order }} shipped"},
        },
        ctx=block_ctx,
        scope={"input": {"email": "ann@example.com"}, "vars": {"order": 42}},
    )
    assert result.output == child_output
    assert result.port == "out"
    assert block_ctx.subflow_calls == [
        ("notify", {"to": "ann@example.com", "subject": "Order 42 shipped"})
    ]


def test_a_workflow_id_works_and_input_defaults_to_empty(block_ctx):
    block_ctx.subflow_handler = lambda workflow, input: {"got": [workflow, input]}
    assert block_run("subflow", {"workflow": 12}, ctx=block_ctx).output == {"got": [12, {}]}


def test_the_childs_failure_fails_the_step(block_ctx):
    block_ctx.subflow_handler = {"notify": BlockUpstreamError("child run 5 failed: smtp down")}
    with pytest.raises(BlockUpstreamError, match="child run 5 failed: smtp down"):
        block_run("subflow", {"workflow": "notify"}, ctx=block_ctx)


def test_an_input_that_resolves_to_a_non_object_is_a_config_error(block_ctx):
    block = block_get("subflow")
    with pytest.raises(BlockConfigError, match=r"input must be an object .* not list"):
        block.run(config={"workflow": "notify", "input": [1]}, input={}, ctx=block_ctx)
    assert block_ctx.subflow_calls == []


@pytest.mark.parametrize(
    ("config", "ref"),
    [
        ({"workflow": "notify"}, "notify"),
        ({"workflow": 3}, 3),
        ({"workflow": ""}, None),
        ({"workflow": True}, None),
        ({"workflow": {"key": "x"}}, None),
        ({}, None),
    ],
)
def test_subflow_ref_names_the_target_for_the_validator(config, ref):
    assert block_get("subflow").subflow_ref(config) == ref


@pytest.mark.parametrize(
    "config", [{}, {"workflow": ""}, {"workflow": 0}, {"workflow": "x", "extra": 1}]
)
def test_the_config_schema_refuses_a_missing_or_empty_target(config):
    with pytest.raises(BlockConfigError):
        block_run("subflow", config)


def test_it_is_a_flow_block_with_side_effects_that_can_be_a_tool():
    block = block_get("subflow")
    assert (block.category, block.side_effects, block.can_be_tool) == ("flow", True, True)
