"""The yardstick for our loop's overhead: the same iteration written the plain LangGraph way.

A ``StateGraph`` compiled with ``SqliteSaver`` on a throwaway SQLite file. One node does
what one iteration of ours does, the simplest honest way a LangGraph user would write it:
pop the next task from a small queue kept in the graph state (generate, critique, refine;
refilled when empty), build the prompt (system + the example theme's files + the last few
ideas + the task), call the model through the same wire path as ours (``bizagent.llm``'s
client on its vLLM backend: Harmony rendered client-side, token ids over HTTP, the
completion parsed with openai-harmony), ``json.loads`` the answer and write the ideas (or
the scores, or the edits) back into the state. A conditional edge loops back to the node
until the invocation's budget of iterations is spent, so LangGraph writes one checkpoint
per super-step (its default) on one fixed thread, across invocations.

No database of ours, no schema validation, no audit: this is the floor a LangGraph user
starts from, which is what issue 8's "at most 2x LangGraph's overhead" is measured against.

It needs the ``bench`` extra (``make bench`` installs it); ``benchmarks/loop.py`` runs it
interleaved with our loop, and ``tests/test_benchmark_langgraph.py`` checks it works.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from pathlib import Path
from typing import Any, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

from bizagent.llm.client import LLMClient, llm_client
from bizagent.llm.types import ChatRequest

EXAMPLE = Path(__file__).resolve().parents[1] / "ideas" / "example_theme"
THREAD_ID = "langgraph-yardstick"
#: Task kind -> the studio role that answers it (the roles our loop's prompts name).
ROLES = {"generate": "ideator", "critique": "critic", "refine": "editor"}
PORTFOLIO_LINES = 5


class LoopState(TypedDict):
    """The whole loop's state, checkpointed by LangGraph after every step."""

    queue: list[str]
    ideas: list[dict[str, Any]]
    next_id: int
    iterations: int
    budget: int


def theme_text() -> str:
    """The example theme as the prompt carries it: both files, verbatim."""
    return "\n\n".join(
        f"## {name}\n{(EXAMPLE / name).read_text(encoding='utf-8')}"
        for name in ("ip_profile.json", "config.json")
    )


#: The queue is refilled with one round of these when it runs dry.
ROUND = ("generate", "critique", "refine")


def task_pick(queue: list[str], ideas: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The next task and the queue left: critique the two newest ideas, refine the newest."""
    queue = list(queue) or list(ROUND)
    kind = queue.pop(0)
    recent = [idea["id"] for idea in ideas[-2:]]
    idea_ids = {"generate": [], "critique": recent, "refine": recent[-1:]}[kind]
    if not idea_ids and kind != "generate":
        # Nothing to critique or refine yet: generate first.
        kind = "generate"
    return {"kind": kind, "idea_ids": idea_ids}, queue


def request_build(state: LoopState, task: dict[str, Any], theme: str) -> ChatRequest:
    """One task's prompt: the role and the theme first (stable), the portfolio and task last."""
    role = ROLES[task["kind"]]
    portfolio = "\n".join(
        f"[#{idea['id']}] {idea['title']}: {idea['summary']}"
        for idea in state["ideas"][-PORTFOLIO_LINES:]
    )
    named = ", ".join(f"#{i}" for i in task["idea_ids"])
    verb = {"generate": "", "critique": f"CRITIQUE ideas {named}", "refine": f"EDIT ideas {named}"}
    return ChatRequest(
        instructions=(
            f"You are the {role} of a small character-goods studio. Answer with one JSON "
            f"object only.\n\n# Theme\n\n{theme}"
        ),
        user=(
            f"# Recent ideas\n{portfolio or '(none yet)'}\n\n"
            f"# Request\nkind: {task['kind']}\nmode: explore\n{verb[task['kind']]}\n"
        ),
        reasoning="low",
        max_tokens=2048,
    )


def answer_apply(state: LoopState, kind: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The state update for one parsed answer: new ideas appended, scores or edits applied."""
    ideas = [dict(idea) for idea in state["ideas"]]
    next_id = state["next_id"]
    by_id = {idea["id"]: idea for idea in ideas}
    if kind == "generate":
        for new in answer.get("ideas", []):
            ideas.append({**new, "id": next_id})
            next_id += 1
    elif kind == "critique":
        for review in answer.get("reviews", []):
            if review.get("idea_id") in by_id:
                by_id[review["idea_id"]]["scores"] = review.get("scores", {})
    else:
        for edit in answer.get("edits", []):
            if edit.get("idea_id") in by_id:
                by_id[edit["idea_id"]].update(edit.get("changes", {}))
    return {"ideas": ideas, "next_id": next_id}


def graph_build(client: LLMClient, checkpointer: SqliteSaver):
    """The compiled graph: one ``iterate`` node looping on itself while budget remains."""
    theme = theme_text()

    def iterate(state: LoopState) -> dict[str, Any]:
        task, queue = task_pick(state["queue"], state["ideas"])
        result = client.complete(request_build(state, task, theme))
        update = answer_apply(state, task["kind"], json.loads(result.final))
        return {
            **update,
            "queue": queue,
            "iterations": state["iterations"] + 1,
            "budget": state["budget"] - 1,
        }

    def more(state: LoopState) -> str:
        return "iterate" if state["budget"] > 0 else END

    builder = StateGraph(LoopState)
    builder.add_node("iterate", iterate)
    builder.add_edge(START, "iterate")
    builder.add_conditional_edges("iterate", more, ["iterate", END])
    return builder.compile(checkpointer=checkpointer)


class LangGraphLoop:
    """The graph on its own throwaway SQLite file; ``run(n)`` does n more iterations."""

    def __init__(self, client: LLMClient | None = None, *, directory: Path | None = None):
        self.directory = directory or Path(tempfile.mkdtemp(prefix="bizagent-langgraph-"))
        self.path = self.directory / "checkpoints.sqlite3"
        self.connection = sqlite3.connect(self.path, check_same_thread=False)
        self.checkpointer = SqliteSaver(self.connection)
        self.graph = graph_build(client or llm_client(), self.checkpointer)
        self.config: Any = {"configurable": {"thread_id": THREAD_ID}}

    def state(self) -> LoopState | None:
        """The thread's last checkpointed state (None before the first run)."""
        snapshot = self.graph.get_state(self.config)
        return snapshot.values or None

    def run(self, iterations: int) -> LoopState:
        """Carry on the fixed thread for ``iterations`` more iterations."""
        # A fresh thread starts empty; a running one keeps its checkpointed queue and
        # ideas and gets only a new budget.
        start: dict[str, Any] = (
            {"queue": [], "ideas": [], "next_id": 1, "iterations": 0, "budget": iterations}
            if self.state() is None
            else {"budget": iterations}
        )
        # Each iteration is a super-step (plus the input's): the default limit of 25 is
        # far too low for a block of 100.
        config = {**self.config, "recursion_limit": iterations + 10}
        return self.graph.invoke(start, config)

    def checkpoints(self) -> int:
        """How many checkpoints the saver holds for the thread."""
        return sum(1 for _ in self.checkpointer.list(self.config))

    def close(self) -> None:
        self.connection.close()
