"""What a copilot request costs: model calls, tool calls, tokens and wall time per request.

A fixed set of requests, each asked through ``copilot_ask`` (the handler behind the
panel, the API and the command) against the fake gpt-oss server from tests/ scripted
with the tool calls a good model makes, while the copilot's http tools call the real
REST API served on loopback by a WSGI server thread of this process:

- **add a step**: read the http block's schema, create the step with its edge, validate;
- **connect**: read the workflow, add the missing edge into a join step, validate;
- **fix an invalid config**: an update the validator refuses (method ``FETCH``), read
  the errors, repair it, validate;
- **docs (en)** / **docs (ja)**: search the documentation collection (built by
  ``copilot_docs_rebuild``) and answer in the question's language;
- **diagnose a failed run**: read the workflow's runs, ask ``diagnose_workflow``
  (an ``llm-structured`` call), answer.

Per request it prints the model calls (requests the fake server received), tool calls
(the agent's tool step runs), prompt and completion tokens (the run's own count, as the
engine records it for budgets) and wall time. The model answers at once, so the wall
time is our overhead: the engine, the API round trips, the validator, the memory.

    .venv/bin/python benchmarks/copilot.py [--json]

Everything happens in a throwaway SQLite database under a temporary BIZAGENT_VAR_DIR;
traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import harness  # first: sets Django up on a throwaway SQLite database
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.llm_backends import llm_settings_point
from tests.personas import persona_create
from workflows.models import Run, StepRun, Workflow
from workflows.services.copilot import copilot_ask
from workflows.services.definitions import workflow_create
from workflows.services.docs import copilot_docs_rebuild
from workflows.services.execution import run_execute_here
from workflows.services.runs import run_start

HTTP_STEP: dict[str, Any] = {
    "name": "notify_api",
    "block": "http",
    "config": {"method": "POST", "url": "https://hooks.example.com/orders"},
}
PREPARE: dict[str, Any] = {
    "name": "prepare",
    "block": "set-variables",
    "config": {"variables": [{"name": "order", "value": "{{ input.order }}"}]},
}
INPUT_SCHEMA = {
    "type": "object",
    "properties": {"order": {"type": "string"}},
    "required": ["order"],
}


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def api_serve() -> tuple[ThreadedWSGIServer, str]:
    """The project's WSGI app on a loopback port, in a thread (the copilot's tools call it)."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _Quiet, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def target(key: str, steps: list[dict[str, Any]], edges: list[dict[str, Any]]) -> Workflow:
    return workflow_create(
        document={
            "name": key.replace("-", " ").title(),
            "key": key,
            "input_schema": INPUT_SCHEMA,
            "steps": steps,
            "edges": edges,
        },
        actor=None,
    )


@dataclass
class Case:
    label: str
    message: str
    build: Callable[[], tuple[Workflow, list[FakeReply]]]


def add_step() -> tuple[Workflow, list[FakeReply]]:
    wf = target("bench-add", [PREPARE], [])
    step = {**HTTP_STEP, "edges": [{"from": "prepare", "port": "out", "to": "notify_api"}]}
    return wf, [
        FakeReply(analysis="Check http.", tool_calls=[("get_block_schema", {"slug": "http"})]),
        FakeReply(tool_calls=[("create_step", {"workflow_id": wf.pk, "step": step})]),
        FakeReply(tool_calls=[("validate_workflow", {"workflow_id": wf.pk})]),
        FakeReply(final="Added notify_api (http) after prepare; the workflow is valid."),
    ]


def connect() -> tuple[Workflow, list[FakeReply]]:
    join = {
        "name": "join",
        "block": "set-variables",
        "config": {"variables": [{"name": "joined", "value": "yes"}]},
    }
    branch_b = {**PREPARE, "name": "b"}
    wf = target(
        "bench-connect",
        [PREPARE, {**PREPARE, "name": "a"}, branch_b, join],
        [
            {"from": "prepare", "to": "a"},
            {"from": "prepare", "to": "b"},
            {"from": "b", "to": "join"},
        ],
    )
    edge = {"from": "a", "port": "out", "to": "join"}
    return wf, [
        FakeReply(tool_calls=[("get_workflow", {"workflow_id": wf.pk})]),
        FakeReply(tool_calls=[("create_edge", {"workflow_id": wf.pk, "edge": edge})]),
        FakeReply(tool_calls=[("validate_workflow", {"workflow_id": wf.pk})]),
        FakeReply(final="Connected a to join; both branches now meet there."),
    ]


def fix_config() -> tuple[Workflow, list[FakeReply]]:
    wf = target("bench-fix", [PREPARE, HTTP_STEP], [{"from": "prepare", "to": "notify_api"}])
    bad = {**HTTP_STEP, "config": {**HTTP_STEP["config"], "method": "FETCH"}}
    good = {**HTTP_STEP, "config": {**HTTP_STEP["config"], "method": "GET"}}
    ref = {"workflow_id": wf.pk, "step_name": "notify_api"}
    return wf, [
        FakeReply(tool_calls=[("update_step", {**ref, "step": bad})]),
        FakeReply(analysis="FETCH refused.", tool_calls=[("get_block_schema", {"slug": "http"})]),
        FakeReply(tool_calls=[("update_step", {**ref, "step": good})]),
        FakeReply(tool_calls=[("validate_workflow", {"workflow_id": wf.pk})]),
        FakeReply(final="FETCH is not an HTTP method; notify_api now uses GET. Valid."),
    ]


def docs(language: str) -> Callable[[], tuple[Workflow, list[FakeReply]]]:
    query, final = {
        "en": ("memory-buffer window", "memory-buffer keeps a thread; `window` bounds it."),
        "ja": ("メモリ 会話 履歴", "memory-buffer は会話の履歴を保持します。"),
    }[language]

    def build() -> tuple[Workflow, list[FakeReply]]:
        wf = target(f"bench-docs-{language}", [PREPARE], [])
        return wf, [
            FakeReply(tool_calls=[("search_documentation", {"query": query})]),
            FakeReply(final=final),
        ]

    return build


def diagnose() -> tuple[Workflow, list[FakeReply]]:
    # A step that can never succeed: the outbound guard refuses a loopback URL.
    broken = {**HTTP_STEP, "config": {"method": "GET", "url": "http://127.0.0.1:9/"}}
    wf = target("bench-diagnose", [PREPARE, broken], [{"from": "prepare", "to": "notify_api"}])
    for _ in range(2):
        run = run_start(workflow=wf, input={"order": "A-1"}, triggered_by=None, test=True)
        run_execute_here(run_id=run.pk, timeout=30)
    diagnosis = {
        "cause": "notify_api calls a loopback address the outbound guard refuses",
        "failing_step": "notify_api",
        "suggested_edit": "point notify_api's url at the public endpoint",
    }
    return wf, [
        FakeReply(tool_calls=[("get_workflow_runs", {"workflow_id": wf.pk, "status": "failed"})]),
        FakeReply(
            tool_calls=[("diagnose_workflow", {"workflow": {"key": wf.key}, "runs": [1, 2]})]
        ),
        FakeReply(final=json.dumps(diagnosis)),  # the llm-structured call's answer
        FakeReply(final="Both runs failed at notify_api: its URL is a loopback address."),
    ]


CASES = [
    Case("add a step", "add an http step after prepare and connect it", add_step),
    Case("connect", "connect a to join", connect),
    Case("fix an invalid config", "make notify_api use the FETCH method", fix_config),
    Case("docs (en)", "How do I bound a memory-buffer's window?", docs("en")),
    Case("docs (ja)", "会話の履歴はどのブロックで保持しますか？", docs("ja")),
    Case("diagnose a failed run", "why does this workflow fail?", diagnose),
]


def measure(case: Case, fake: FakeGptOss, user: Any) -> dict[str, Any]:
    workflow, replies = case.build()
    fake.enqueue(*replies)
    calls_before = len(fake.requests)
    started = time.perf_counter()
    answer = copilot_ask(user=user, workflow_id=workflow.pk, message=case.message)
    wall = time.perf_counter() - started
    run = Run.objects.get(pk=answer.run_id)
    return {
        "request": case.label,
        "status": answer.status,
        "model_calls": len(fake.requests) - calls_before,
        "tool_calls": StepRun.objects.filter(run=run, parent__isnull=False).count(),
        "prompt_tokens": run.prompt_tokens,
        "completion_tokens": run.completion_tokens,
        "edits": len(answer.edits),
        "valid": not answer.validation,
        "wall_s": round(wall, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args()

    server, base_url = api_serve()
    settings.INTERNAL_BASE_URL = base_url
    copilot_docs_rebuild(actor=None)
    user = persona_create("alice", app="workflows")
    rows = []
    with FakeGptOss() as fake:
        llm_settings_point(settings, fake)
        for case in CASES:
            rows.append(measure(case, fake, user))
    server.shutdown()

    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    print(f"copilot requests against the fake gpt-oss server (database under {harness.VAR_DIR})")
    header = (
        f"{'request':<24}{'status':<11}{'model':>6}{'tools':>6}{'prompt tok':>12}"
        f"{'compl tok':>11}{'edits':>6}{'valid':>7}{'wall s':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['request']:<24}{r['status']:<11}{r['model_calls']:>6}{r['tool_calls']:>6}"
            f"{r['prompt_tokens']:>12,}{r['completion_tokens']:>11,}{r['edits']:>6}"
            f"{'yes' if r['valid'] else 'no':>7}{r['wall_s']:>8.2f}"
        )


if __name__ == "__main__":
    main()
