"""The engine's BlockContext: providers, tool specs, execute_step (validation, child
step runs, the same call once, budgets through nesting) and run_subflow."""

from __future__ import annotations

import pytest

from bizagent.llm.client import LLMClient
from tests.workflows.engine_blocks import ATTEMPTS, HOOKS, run_drain, workflow_build
from workflows.blocks.base import BlockConfigError
from workflows.models import Run, RunTrigger, StepRun, Workflow
from workflows.services.context import (
    _PROVIDERS,
    call_key,
    context_provider_register,
    context_provider_unregister,
)
from workflows.services.runs import MAX_RUN_DEPTH, run_start

pytestmark = pytest.mark.django_db

TOOL_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "n": {"type": "integer"}},
    "required": ["text"],
}


@pytest.fixture(autouse=True)
def _clean():
    ATTEMPTS.clear()
    HOOKS.clear()
    saved = dict(_PROVIDERS)
    yield
    _PROVIDERS.clear()
    _PROVIDERS.update(saved)


def start(workflow, input=None):
    return run_start(workflow=workflow, input=input or {}, triggered_by=None)


def hook_run(hook, **kw):
    HOOKS["h"] = hook
    return run_drain(
        start(workflow_build(steps=[{"name": "a", "block": "test-hook", "config": {"hook": "h"}}]))
    )


def agent_workflow(calls, *, tool_fields=None, key="agent", budget=None):
    return workflow_build(
        key=key,
        steps=[
            {"name": "agent", "block": "test-tools", "config": {"calls": calls}},
            {
                "name": "shout",
                "block": "test-echo",
                "tool_only": True,
                "input_schema": TOOL_SCHEMA,
                "description": "Shouts the text.",
                "config": {"value": "{{ input.text }}!"},
                **(tool_fields or {}),
            },
        ],
        output={"agent": "{{ steps.agent.output }}"},
    )


def test_a_missing_provider_is_a_clear_config_error():
    context_provider_unregister("http")
    run = hook_run(lambda ctx: ctx.http)
    step_run = run.step_runs.get()
    assert step_run.error_class == "config"
    assert step_run.error_message == "the http client is not configured"


def test_the_app_registers_the_http_client_and_internal_ctx():
    assert {"http", "ctx.internal_api_token", "ctx.internal_base_url"} <= set(_PROVIDERS)
    run = hook_run(lambda ctx: type(ctx.http).__name__)
    assert run.step_runs.get().output == "HardenedHTTP"


def test_a_registered_provider_is_handed_to_the_block():
    context_provider_register("http", lambda ctx: f"client for {ctx.step_name}")
    run = hook_run(lambda ctx: ctx.http)
    assert run.step_runs.get().output == "client for a"


def test_llm_is_the_configured_client():
    run = hook_run(lambda ctx: type(ctx.llm).__name__)
    assert run.step_runs.get().output == LLMClient.__name__


def test_a_secret_ctx_value_never_reaches_stored_rows():
    context_provider_register("ctx.internal_api_token", lambda ctx: "tok-SECRET-123")
    workflow = workflow_build(
        steps=[
            {
                "name": "a",
                "block": "test-echo",
                "config": {"value": "Bearer {{ ctx.internal_api_token }}"},
            }
        ]
    )
    run = run_drain(start(workflow))
    step_run = run.step_runs.get()
    assert step_run.output == "Bearer ***"
    assert step_run.input == {"value": "Bearer ***"}


def test_tool_specs_describe_the_tool_steps():
    workflow = agent_workflow([])
    HOOKS["h"] = lambda ctx: [
        {"name": s.name, "description": s.description, "parameters": s.parameters}
        for s in ctx.tool_specs(["shout"])
    ]
    workflow.steps.filter(name="agent").update(block="test-hook", config={"hook": "h"})
    run = run_drain(start(workflow))
    assert run.step_runs.get(step__name="agent").output == [
        {"name": "shout", "description": "Shouts the text.", "parameters": TOOL_SCHEMA}
    ]


def test_execute_step_runs_a_child_step_run_and_returns_its_output():
    workflow = agent_workflow([{"name": "shout", "args": {"text": "hi"}}])
    run = run_drain(start(workflow))
    assert run.status == Run.Status.SUCCEEDED
    assert run.output == {"agent": ["hi!"]}
    agent = run.step_runs.get(step__name="agent")
    child = StepRun.objects.get(parent=agent)
    assert child.step.name == "shout" and child.status == StepRun.Status.SUCCEEDED
    assert child.call_key == call_key("shout", {"text": "hi"})
    assert child.input == {"text": "hi"}
    assert child.idempotency_key.startswith(f"wf-{run.pk}-{agent.pk}-")


def test_the_same_call_twice_runs_once():
    workflow = agent_workflow(
        [
            {"name": "shout", "args": {"text": "hi", "n": 1}},
            {"name": "shout", "args": {"n": 1, "text": "hi"}},
        ]
    )
    run = run_drain(start(workflow))
    assert run.output == {"agent": ["hi!", "hi!"]}
    assert ATTEMPTS["run:shout"] == 1
    assert StepRun.objects.filter(parent__isnull=False).count() == 1


def test_arguments_are_validated_with_every_problem():
    workflow = agent_workflow([{"name": "shout", "args": {"n": "x"}}])
    run = run_drain(start(workflow))
    agent = run.step_runs.get(step__name="agent")
    assert agent.error_class == "input"
    assert "'text' is a required property" in agent.error_message
    assert "'x' is not of type 'integer'" in agent.error_message
    assert not StepRun.objects.filter(parent__isnull=False).exists()


def test_a_failing_tool_raises_its_error_class_to_the_caller():
    workflow = agent_workflow(
        [{"name": "shout", "args": {"text": "hi"}}],
        tool_fields={"block": "test-fail", "config": {"times": 5, "error": "refused"}},
    )
    run = run_drain(start(workflow))
    agent = run.step_runs.get(step__name="agent")
    assert agent.error_class == "refused"
    assert "tool shout failed" in agent.error_message
    assert run.status == Run.Status.FAILED


def test_a_tool_call_spends_the_budget_and_hands_the_rest_down():
    workflow = agent_workflow(
        [{"name": "shout", "args": {"text": "a"}}, {"name": "shout", "args": {"text": "b"}}]
    )
    run = start(workflow)
    run.step_runs.update(budget={"tool_calls": 5, "tokens": 100, "depth": 3})
    run = run_drain(run)
    agent = run.step_runs.get(step__name="agent")
    assert agent.budget["tool_calls"] == 3
    children = StepRun.objects.filter(parent=agent).order_by("id")
    assert [c.budget["tool_calls"] for c in children] == [4, 3]
    assert {c.budget["depth"] for c in children} == {2}


def test_an_exhausted_budget_is_a_failure_with_a_reason():
    workflow = agent_workflow(
        [{"name": "shout", "args": {"text": "a"}}, {"name": "shout", "args": {"text": "b"}}]
    )
    run = start(workflow)
    run.step_runs.update(budget={"tool_calls": 1})
    run = run_drain(run)
    agent = run.step_runs.get(step__name="agent")
    assert (agent.status, agent.error_class) == ("failed", "budget_exhausted")
    assert "no tool calls left" in agent.error_message
    assert ATTEMPTS["run:shout"] == 1


def test_nesting_depth_is_bounded():
    workflow = agent_workflow([{"name": "shout", "args": {"text": "a"}}])
    run = start(workflow)
    run.step_runs.update(budget={"depth": 0})
    run = run_drain(run)
    assert run.step_runs.get(step__name="agent").error_class == "budget_exhausted"


def test_an_unknown_tool_is_a_config_error():
    run = run_drain(start(agent_workflow([{"name": "nope", "args": {}}])))
    agent = run.step_runs.get(step__name="agent")
    assert agent.error_class == BlockConfigError.error_class
    assert "no step named 'nope'" in agent.error_message


def child_workflow(status=Workflow.Status.PUBLISHED, times=0):
    return workflow_build(
        key="child",
        status=status,
        input_schema={"type": "object", "required": ["who"]},
        steps=[
            {"name": "greet", "block": "test-echo", "config": {"value": "hello {{ input.who }}"}},
            {"name": "maybe", "block": "test-fail", "config": {"times": times, "error": "refused"}},
        ],
        edges=[("greet", "out", "maybe")],
        output={"greeting": "{{ steps.greet.output }}"},
    )


def parent_workflow(ref, input, key="parent"):
    return workflow_build(
        key=key,
        steps=[
            {"name": "sub", "block": "test-subflow", "config": {"workflow": ref, "input": input}}
        ],
        output={"sub": "{{ steps.sub.output }}"},
    )


def test_run_subflow_runs_a_child_run_inline_and_returns_its_output():
    child = child_workflow()
    run = run_drain(start(parent_workflow("child", {"who": "{{ input.name }}"}), {"name": "ann"}))
    assert run.status == Run.Status.SUCCEEDED
    assert run.output == {"sub": {"greeting": "hello ann"}}
    sub = run.step_runs.get()
    child_run = Run.objects.get(parent_step_run=sub)
    assert (child_run.workflow, child_run.depth, child_run.trigger) == (
        child,
        1,
        RunTrigger.SUBFLOW,
    )
    assert child_run.status == Run.Status.SUCCEEDED
    assert child_run.step_runs.filter(status=StepRun.Status.SUCCEEDED).count() == 2


def test_a_failing_subflow_raises_the_childs_error():
    child = child_workflow(times=9)
    run = run_drain(start(parent_workflow(child.pk, {"who": "x"})))
    sub = run.step_runs.get()
    assert (sub.status, sub.error_class) == ("failed", "refused")
    assert "subflow child failed" in sub.error_message


def test_a_subflow_must_be_published_and_get_valid_input():
    child_workflow(status=Workflow.Status.DRAFT)
    run = run_drain(start(parent_workflow("child", {"who": "x"})))
    assert run.step_runs.get().error_class == "config"
    Workflow.objects.filter(key="child").update(status=Workflow.Status.PUBLISHED)
    run = run_drain(start(parent_workflow("child", {}, key="parent2")))
    sub = run.step_runs.get(run=run)
    assert sub.error_class == "input" and "'who' is a required property" in sub.error_message


def test_subflow_depth_is_bounded():
    loop = workflow_build(
        key="loop",
        steps=[{"name": "again", "block": "test-subflow", "config": {"workflow": "loop"}}],
    )
    run = run_drain(start(loop))
    assert run.status == Run.Status.FAILED
    deepest = Run.objects.order_by("-depth").first()
    assert deepest.depth == MAX_RUN_DEPTH
    failed = StepRun.objects.get(run=deepest)
    # Whichever bound comes first (run depth, or the depth budget handed down) says so.
    assert failed.error_class == "budget_exhausted" and "depth exhausted" in failed.error_message
