"""An agent through the engine, end to end over HTTP against the fake gpt-oss server.

Everything here is real but the model: the published workflows are made by the
definition services (the one validator, publish through governance), the runs are
started with ``run_start`` and executed by the engine's own executor
(``step_run_execute`` through ``run_drain``), the agent's tools are real blocks (a
``rag-query`` over a small collection, an ``http`` call to a loopback server listed in
``BIZAGENT_HTTP_ALLOWED_HOSTS``, a ``subflow`` running another published workflow whose
second step is an agent), and the model client talks vLLM's wire protocol to the fake.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from decisions.models import AuditEvent
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.llm_backends import llm_settings_point
from tests.workflows.engine_blocks import run_drain
from tests.workflows.factories import workflow_published
from tests.workflows.loopback_http import LoopbackServer, loopback_server  # noqa: F401
from tests.workflows.rag_corpus import corpus_load
from workflows.models import Run, StepRun, Workflow
from workflows.services.context import call_key
from workflows.services.runs import run_start

pytestmark = pytest.mark.django_db

QUOTE_SCHEMA = {
    "type": "object",
    "properties": {"plan": {"type": "string"}},
    "required": ["plan"],
}
NOTIFY_SCHEMA = {
    "type": "object",
    "properties": {"message": {"type": "string"}},
    "required": ["message"],
}
#: What the run is given to spend: the start step's budget, shrinking as it nests.
RUN_BUDGET = {"iterations": None, "tool_calls": 10, "tokens": 200_000, "depth": 3}


@pytest.fixture
def fake(fake_gptoss: FakeGptOss, settings: Any) -> FakeGptOss:
    llm_settings_point(settings, fake_gptoss)
    return fake_gptoss


@pytest.fixture
def server(loopback_server: LoopbackServer, settings: Any) -> LoopbackServer:  # noqa: F811
    # An operator lists an intranet API this way; everything else on loopback is refused.
    settings.HTTP_ALLOWED_HOSTS = ["127.0.0.1"]
    return loopback_server


def notify_workflow() -> Workflow:
    """The subflow: a set-variables step, then an agent (the second step of the child)."""
    return workflow_published(
        {
            "name": "Notify",
            "key": "notify",
            "input_schema": {**NOTIFY_SCHEMA},
            "output": {"sent": "{{ steps.draft.output.text }}", "channel": "{{ vars.channel }}"},
            "steps": [
                {
                    "name": "prep",
                    "block": "set-variables",
                    "config": {"variables": [{"name": "channel", "value": "email"}]},
                },
                {
                    "name": "draft",
                    "block": "agent",
                    "config": {
                        "instructions": "Write a one-line customer notification.",
                        "prompt": "{{ input.message }} (by {{ vars.channel }})",
                    },
                },
            ],
            "edges": [{"from": "prep", "to": "draft"}],
        }
    )


def support_workflow(
    server: LoopbackServer, *, agent: dict[str, Any] | None = None, retry: dict | None = None
) -> Workflow:
    """The parent: an agent whose tools are a document search, an HTTP API and a subflow."""
    config = {
        "instructions": "You answer customer questions. Use the tools.",
        "prompt": "{{ input.question }}",
        "tools": ["search", "quote", "notify"],
        "max_iterations": 6,
        **(agent or {}),
    }
    answer: dict[str, Any] = {"name": "answer", "block": "agent", "config": config}
    if retry is not None:
        answer["retry"] = retry
    return workflow_published(
        {
            "name": "Support",
            "key": "support",
            "input_schema": {
                "type": "object",
                "properties": {"question": {"type": "string"}},
                "required": ["question"],
            },
            "output": {
                "answer": "{{ steps.answer.output.text }}",
                "run": "{{ ctx.run_id }}",
                "workflow": "{{ ctx.workflow_key }}",
            },
            "steps": [
                answer,
                {
                    "name": "search",
                    "block": "rag-query",
                    "tool_only": True,
                    "description": "Search the help centre.",
                    "config": {"collection": "help", "query": "{{ input.query }}", "limit": 2},
                },
                {
                    "name": "quote",
                    "block": "http",
                    "tool_only": True,
                    "description": "Price of a plan.",
                    "input_schema": QUOTE_SCHEMA,
                    "config": {
                        "method": "GET",
                        "url": server.url("/json"),
                        "query": {"plan": "{{ input.plan }}"},
                    },
                },
                {
                    "name": "notify",
                    "block": "subflow",
                    "tool_only": True,
                    "description": "Notify the customer.",
                    "input_schema": NOTIFY_SCHEMA,
                    "config": {"workflow": "notify", "input": {"message": "{{ input.message }}"}},
                },
            ],
        }
    )


def start(workflow: Workflow, question: str = "Can I return an item?") -> Run:
    run = run_start(workflow=workflow, input={"question": question}, triggered_by=None)
    return run


def tool_messages(fake: FakeGptOss, index: int) -> list[tuple[str, str]]:
    """(tool, content) of every Harmony tool message in request ``index``'s prompt."""
    return re.findall(
        r"<\|start\|>functions\.(\w+) to=assistant<\|channel\|>commentary"
        r"<\|message\|>(.*?)<\|end\|>",
        fake.requests[index].prompt_text,
        re.DOTALL,
    )


def agent_step_run(run: Run) -> StepRun:
    return run.step_runs.get(step__name="answer", parent__isnull=True)


# --- the whole path -------------------------------------------------------------------


def test_an_agent_calls_two_tool_steps_and_a_subflow_through_the_engine(fake, server):
    corpus_load()
    notify_workflow()
    workflow = support_workflow(server)
    fake.enqueue(
        FakeReply(
            analysis="Search the help centre.", tool_calls=[("search", {"query": "returns"})]
        ),
        FakeReply(analysis="Price the plan.", tool_calls=[("quote", {"plan": "pro"})]),
        FakeReply(analysis="Tell them.", tool_calls=[("notify", {"message": "Return accepted"})]),
        # The child workflow's agent, called while the notify tool runs.
        FakeReply(analysis="One line.", final="Your return is accepted."),
        FakeReply(analysis="THINKING-NOT-FOR-OUTPUT", final="Yes: returns within 30 days."),
    )
    run = start(workflow)
    run.step_runs.update(budget=RUN_BUDGET)

    run = run_drain(run)

    assert run.status == Run.Status.SUCCEEDED, run.error
    # The output mapping reads the agent's final channel, and ctx is the run's own.
    assert run.output == {
        "answer": "Yes: returns within 30 days.",
        "run": run.pk,
        "workflow": "support",
    }
    agent = agent_step_run(run)
    assert agent.output["tool_calls"] == [
        {"tool": "search", "arguments": {"query": "returns"}},
        {"tool": "quote", "arguments": {"plan": "pro"}},
        {"tool": "notify", "arguments": {"message": "Return accepted"}},
    ]
    assert "THINKING" not in json.dumps(run.output)

    # Each tool call is a child StepRun of the agent's, keyed by its canonical call.
    children = {c.step.name: c for c in StepRun.objects.filter(parent=agent).select_related("step")}
    assert set(children) == {"search", "quote", "notify"}
    assert children["search"].call_key == call_key("search", {"query": "returns"})
    assert children["quote"].call_key == call_key("quote", {"plan": "pro"})
    assert children["notify"].input == {"message": "Return accepted"}
    assert {c.status for c in children.values()} == {StepRun.Status.SUCCEEDED}
    assert all(c.run_id == run.pk for c in children.values())

    # The tools really ran: the search found the returns passage, the API was called
    # with the step run's idempotency key, and the model read both results.
    sources = [hit["source"] for hit in children["search"].output["results"]]
    assert "shipping.md" in sources
    assert [r.path for r in server.received] == ["/json"]
    assert server.received[0].query == {"plan": ["pro"]}
    assert server.received[0].header("Idempotency-Key") == children["quote"].idempotency_key
    results = tool_messages(fake, 2)
    assert [name for name, _ in results] == ["search", "quote"]
    assert "Returns are accepted within 30 days" in results[0][1]
    assert json.loads(results[1][1])["json"] == {"ok": True, "items": [1, 2]}

    # The subflow is a child Run, pinned to the published notify, one level deeper.
    child_run = Run.objects.get(parent_step_run=children["notify"])
    assert (child_run.workflow.key, child_run.depth, child_run.status) == ("notify", 1, "succeeded")
    assert child_run.output == {"sent": "Your return is accepted.", "channel": "email"}
    assert children["notify"].output == child_run.output
    assert "Return accepted (by email)" in fake.requests[3].prompt_text

    # Budgets persist on the step runs and shrink through nesting:
    # agent → tool (subflow) → the subflow's steps (its agent is the second one).
    prep = child_run.step_runs.get(step__name="prep")
    draft = child_run.step_runs.get(step__name="draft")
    chain = [agent, children["notify"], prep, draft]
    assert [sr.budget["depth"] for sr in chain] == [3, 2, 1, 1]
    # Three tool calls spent by the agent; the notify call was the third.
    assert agent.budget["tool_calls"] == 7
    assert [c.budget["tool_calls"] for c in (children["search"], children["quote"])] == [9, 8]
    assert children["notify"].budget["tool_calls"] == 7
    # Tokens: each model call spends from the budget; a child starts with what was left.
    assert RUN_BUDGET["tokens"] > children["search"].budget["tokens"]
    assert children["search"].budget["tokens"] > children["quote"].budget["tokens"]
    # The subflow's first step is handed what the agent had left at its third call.
    assert children["quote"].budget["tokens"] > prep.budget["tokens"]
    assert draft.budget["tokens"] < prep.budget["tokens"]
    assert prep.budget["tokens"] - draft.budget["tokens"] == (
        draft.prompt_tokens + draft.completion_tokens
    )
    # …and what the nested agent spent counts against every budget above it: the run's
    # budget is down by both agents' tokens, not only the outer one's.
    assert children["notify"].budget["tokens"] == draft.budget["tokens"]
    assert RUN_BUDGET["tokens"] - agent.budget["tokens"] == (
        agent.prompt_tokens
        + agent.completion_tokens
        + draft.prompt_tokens
        + draft.completion_tokens
    )


# --- budgets ----------------------------------------------------------------------------


def looping(tool: str, count: int) -> list[FakeReply]:
    """A model that keeps calling ``tool`` with new arguments."""
    return [
        FakeReply(analysis="Again.", tool_calls=[(tool, {"query": f"returns {n}"})])
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("agent", "replies", "reason"),
    [
        ({"max_iterations": 2}, looping("search", 5), "iterations budget exhausted"),
        ({"max_tool_calls": 2}, looping("search", 5), "tool calls budget exhausted"),
        ({"max_tokens": 400}, looping("search", 5), "tokens budget exhausted"),
    ],
    ids=["iterations", "tool_calls", "tokens"],
)
def test_an_exhausted_budget_fails_the_run_with_the_reason(fake, server, agent, replies, reason):
    corpus_load()
    notify_workflow()
    fake.enqueue(*replies)

    run = run_drain(start(support_workflow(server, agent=agent)))

    assert run.status == Run.Status.FAILED
    step_run = agent_step_run(run)
    assert (step_run.status, step_run.error_class) == ("failed", "budget_exhausted")
    assert reason in step_run.error_message
    assert reason in run.error
    assert step_run.output is None
    # What the failed agent was billed is still recorded.
    assert step_run.prompt_tokens > 0


def test_the_enclosing_token_budget_bounds_the_agent(fake, server):
    corpus_load()
    notify_workflow()
    fake.enqueue(*looping("search", 5))
    run = start(support_workflow(server))
    run.step_runs.update(budget={**RUN_BUDGET, "tokens": 900})

    run = run_drain(run)

    step_run = agent_step_run(run)
    assert step_run.error_class == "budget_exhausted"
    assert "the enclosing budget's tokens" in step_run.error_message
    # The budget on the step run says what is left: nothing.
    assert step_run.budget["tokens"] == 0


# --- the same call twice ----------------------------------------------------------------


def test_a_repeated_identical_call_returns_the_recorded_result(fake, server):
    corpus_load()
    notify_workflow()
    fake.enqueue(
        FakeReply(tool_calls=[("quote", {"plan": "pro"})]),
        FakeReply(tool_calls=[("quote", {"plan": "pro"})]),
        FakeReply(final="20 dollars."),
    )

    run = run_drain(start(support_workflow(server)))

    assert run.status == Run.Status.SUCCEEDED, run.error
    agent = agent_step_run(run)
    # The tool ran once: one request reached the API, one child step run exists.
    assert len(server.received) == 1
    assert StepRun.objects.filter(parent=agent).count() == 1
    # The model got the recorded result both times.
    first, second = tool_messages(fake, 2)
    assert first == second
    assert json.loads(first[1])["json"] == {"ok": True, "items": [1, 2]}


def test_an_identical_call_beyond_the_limit_fails(fake, server):
    corpus_load()
    notify_workflow()
    fake.enqueue(*[FakeReply(tool_calls=[("quote", {"plan": "pro"})]) for _ in range(4)])

    run = run_drain(start(support_workflow(server, agent={"max_identical_calls": 2})))

    assert run.status == Run.Status.FAILED
    agent = agent_step_run(run)
    assert agent.error_class == "budget_exhausted"
    assert "identical calls budget exhausted" in agent.error_message
    assert 'quote({"plan":"pro"})' in agent.error_message
    assert len(server.received) == 1


# --- the model's mistakes ---------------------------------------------------------------


def test_the_model_asking_for_an_unknown_tool_is_told_and_recovers(fake, server):
    corpus_load()
    notify_workflow()
    fake.enqueue(
        FakeReply(tool_calls=[("delete_everything", {"confirm": True})]),
        FakeReply(tool_calls=[("search", {"query": "returns"})]),
        FakeReply(final="Returns within 30 days."),
    )

    run = run_drain(start(support_workflow(server)))

    assert run.status == Run.Status.SUCCEEDED, run.error
    assert run.output["answer"] == "Returns within 30 days."
    told = tool_messages(fake, 1)
    assert told[0][0] == "delete_everything"
    assert "there is no tool 'delete_everything'" in told[0][1]
    assert "search, quote, notify" in told[0][1]
    agent = agent_step_run(run)
    names = set(StepRun.objects.filter(parent=agent).values_list("step__name", flat=True))
    assert names == {"search"}


@pytest.mark.parametrize(
    ("reply", "said"),
    [
        (FakeReply(failure="malformed_harmony"), "malformed"),
        (FakeReply(failure="truncate", final="A long answer " * 40), "truncated"),
    ],
    ids=["malformed", "truncated"],
)
def test_a_broken_answer_is_a_model_error_retried_then_failed(fake, server, reply, said):
    corpus_load()
    notify_workflow()
    fake.enqueue(reply, reply, reply)
    retry = {"attempts": 2, "backoff": "constant", "delay_seconds": 0, "on": ["model"]}

    run = run_drain(start(support_workflow(server, retry=retry)))

    assert run.status == Run.Status.FAILED
    agent = agent_step_run(run)
    assert (agent.status, agent.error_class, agent.attempt) == ("failed", "model", 2)
    assert said in agent.error_message
    assert len(fake.requests) == 2  # one model call per attempt, then no more
    failures = AuditEvent.objects.filter(action="workflows.step_failed", subject_id=str(run.pk))
    assert [(e.data["error_class"], e.data["retry"]) for e in failures.order_by("pk")] == [
        ("model", True),
        ("model", False),
    ]


def test_a_model_error_not_in_the_retry_policy_fails_at_once(fake, server):
    corpus_load()
    notify_workflow()
    fake.enqueue(FakeReply(failure="malformed_harmony"), FakeReply(final="never asked"))
    retry = {"attempts": 3, "on": ["timeout"]}

    run = run_drain(start(support_workflow(server, retry=retry)))

    agent = agent_step_run(run)
    assert (agent.status, agent.error_class, agent.attempt) == ("failed", "model", 1)
    assert len(fake.requests) == 1
