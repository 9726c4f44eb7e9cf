"""Speed of the workflow engine: our overhead per step, and throughput under real workers.

Prints, section by section:

- **overhead per step**: a 20-step and a 100-step ``set-variables`` chain (each step
  reads the previous one's variable through a template) executed by the real executor,
  ``step_run_execute`` straight through, in this process: median and p95 milliseconds
  per step over several runs, and the SQL statements per step;
- **throughput**: 100 runs of a 5-step chain queued at once, drained by a real
  ``qcluster`` with 2 workers (ORM broker, SQLite in WAL mode): runs/s, steps/s and the
  time to drain;
- **model latency**: the same with an ``llm`` step answering after 1 s (the fake gpt-oss
  server from tests/ on loopback): 100 runs x 1 s on 2 workers against the ideal 50 s,
  and a workflow with 4 parallel ``llm`` branches: its wall time against 4 s in series;
- **the bar**: n8n 1.123 runs a chain of Set nodes at about 2-4 ms per node, in memory
  and persisted only at the end; ours beside it (each of our steps is recorded in its
  own transaction, under its lease).

    .venv/bin/python benchmarks/workflow_engine.py [--quick] [--runs 10] [--profile]
        [--skip-cluster] [--latency 1.0] [--json]

``--quick`` measures fewer runs and 20 runs instead of 100 under the cluster (a smoke
check, about a minute); ``--profile`` prints cProfile's top functions for one 100-step
chain. Everything happens in a throwaway SQLite database under a temporary
BIZAGENT_VAR_DIR; traffic stays on loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import itertools
import json
import os
import pstats
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import harness  # first: sets Django up on a throwaway SQLite database
from django.db import transaction

from bizagent.llm.harmony import harmony_encoding
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.processes import ROOT, alive, descendants, wait_until
from tests.workflows.engine_blocks import workflow_build  # (registers the test blocks too)
from workflows.models import Run, RunTrigger, StepRun, Workflow
from workflows.services import execution
from workflows.services.execution import step_run_execute
from workflows.services.runs import run_create, run_start

VAR_DIR = Path(harness.VAR_DIR)
#: n8n 1.123, a chain of Set nodes on this machine: ms per node (in memory, saved at the end).
N8N_MS_PER_NODE = (2.0, 4.0)


# -- workflows --------------------------------------------------------------------------


def chain_workflow(length: int, *, key: str) -> Workflow:
    """``length`` set-variables steps in a line; step i reads step i-1's variable."""
    steps = []
    for i in range(length):
        value = "{{ input.seed }}" if i == 0 else f"{{{{ vars.v{i - 1} }}}}"
        steps.append(
            {
                "name": f"s{i}",
                "block": "set-variables",
                "config": {"variables": [{"name": f"v{i}", "value": value, "type": "number"}]},
            }
        )
    edges = [(f"s{i}", "out", f"s{i + 1}") for i in range(length - 1)]
    return workflow_build(
        steps=steps,
        edges=edges,
        key=key,
        output={"last": f"{{{{ vars.v{length - 1} }}}}"},
        input_schema={"type": "object", "properties": {"seed": {"type": "integer"}}},
    )


def llm_chain_workflow(*, key: str) -> Workflow:
    """5 steps: set-variables, llm (the model), then three set-variables."""
    steps: list[dict[str, Any]] = [
        {
            "name": "s0",
            "block": "set-variables",
            "config": {"variables": [{"name": "v0", "value": "{{ input.seed }}"}]},
        },
        {
            "name": "ask",
            "block": "llm",
            "config": {"prompt": "Say hello to {{ vars.v0 }}.", "reasoning": "low"},
        },
    ]
    for i in range(1, 4):
        steps.append(
            {
                "name": f"s{i}",
                "block": "set-variables",
                "config": {
                    "variables": [{"name": f"v{i}", "value": "{{ steps.ask.output.text }}"}]
                },
            }
        )
    names = [step["name"] for step in steps]
    return workflow_build(
        steps=steps,
        edges=[(a, "out", b) for a, b in itertools.pairwise(names)],
        key=key,
        output={"answer": "{{ vars.v3 }}"},
    )


def fan_out_workflow(branches: int, *, key: str) -> Workflow:
    """A start step, ``branches`` llm steps in parallel, and a join."""
    steps: list[dict[str, Any]] = [
        {
            "name": "start",
            "block": "set-variables",
            "config": {"variables": [{"name": "x", "value": "go"}]},
        }
    ]
    edges = []
    for i in range(branches):
        steps.append(
            {
                "name": f"ask{i}",
                "block": "llm",
                "config": {"prompt": f"Branch {i}: {{{{ vars.x }}}}"},
            }
        )
        edges += [("start", "out", f"ask{i}"), (f"ask{i}", "out", "join")]
    steps.append(
        {
            "name": "join",
            "block": "set-variables",
            "config": {"variables": [{"name": "done", "value": "yes"}]},
        }
    )
    return workflow_build(steps=steps, edges=edges, key=key, output={"done": "{{ vars.done }}"})


def run_queue_quietly(workflow: Workflow, input: dict[str, Any]) -> tuple[Run, StepRun]:
    """A queued run and its start step, not sent to the task queue (this process runs it)."""
    with transaction.atomic():
        return run_create(
            workflow=workflow, input=input, triggered_by=None, trigger=RunTrigger.COMMAND
        )


# -- overhead per step ------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class StepTimer:
    """Times each ``Runner.execute_one`` (one step: claim, block, record, advance): wall
    milliseconds, and this process's CPU milliseconds (steadier on a shared machine)."""

    def __init__(self) -> None:
        self.timings: list[float] = []
        self.cpu: list[float] = []
        self._original = execution.Runner.execute_one

    def __enter__(self) -> StepTimer:
        original = self._original
        timings, cpu = self.timings, self.cpu

        def timed(runner: Any, *args: Any, **kwargs: Any) -> Any:
            started, cpu_started = time.perf_counter(), time.process_time()
            try:
                return original(runner, *args, **kwargs)
            finally:
                timings.append((time.perf_counter() - started) * 1000)
                cpu.append((time.process_time() - cpu_started) * 1000)

        execution.Runner.execute_one = timed  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        execution.Runner.execute_one = self._original  # type: ignore[method-assign]


def chain_measure(length: int, runs: int) -> dict[str, Any]:
    """Execute ``runs`` runs of a ``length``-step chain straight through; figures per step."""
    workflow = chain_workflow(length, key=f"chain-{length}")
    # One warm-up run: imports, the graph cache, prepared validators.
    _, first = run_queue_quietly(workflow, {"seed": 1})
    step_run_execute(step_run_id=first.pk)
    per_run_ms: list[float] = []
    queries: list[int] = []
    with StepTimer() as timer:
        for n in range(runs):
            run, first = run_queue_quietly(workflow, {"seed": n})
            with harness.queries_counted() as seen:
                started = time.perf_counter()
                recorded = step_run_execute(step_run_id=first.pk)
                elapsed = (time.perf_counter() - started) * 1000
            run.refresh_from_db()
            if recorded != length or run.status != Run.Status.SUCCEEDED:
                raise SystemExit(f"chain {length}: recorded {recorded} steps, run {run.status}")
            if run.output != {"last": n}:
                raise SystemExit(f"chain {length}: output {run.output}, expected {n}")
            per_run_ms.append(elapsed / length)
            queries.append(len(seen))
    return {
        "steps": length,
        "runs": runs,
        "ms_per_step_median": statistics.median(timer.timings),
        "ms_per_step_p95": percentile(timer.timings, 0.95),
        "ms_per_step_run_mean": statistics.mean(per_run_ms),
        "cpu_ms_per_step_median": statistics.median(timer.cpu),
        "queries_per_step": statistics.mean(queries) / length,
    }


def section_overhead(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Engine overhead per step: set-variables chains executed straight through."""
    print("\n# Engine overhead per step (set-variables chain, step_run_execute straight through)")
    results = []
    for length in (20, 100):
        result = chain_measure(length, args.runs)
        results.append(result)
        print(
            f"  {length:>3}-step chain, {result['runs']} runs: "
            f"{result['ms_per_step_median']:6.2f} ms/step median, "
            f"p95 {result['ms_per_step_p95']:6.2f}, "
            f"{result['ms_per_step_run_mean']:6.2f} mean over whole runs "
            f"(CPU {result['cpu_ms_per_step_median']:5.2f} median); "
            f"{result['queries_per_step']:.1f} queries/step"
        )
    if args.profile:
        workflow = Workflow.objects.get(key="chain-100")
        _, first = run_queue_quietly(workflow, {"seed": 7})
        profile = cProfile.Profile()
        profile.enable()
        step_run_execute(step_run_id=first.pk)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
        print("\n## cProfile of one 100-step chain (cumulative)\n" + out.getvalue())
    return results


def section_bar(args: argparse.Namespace, overhead: list[dict[str, Any]]) -> dict[str, Any]:
    """Our per-step figure beside n8n's."""
    low, high = N8N_MS_PER_NODE
    print("\n# The bar: n8n 1.123, a chain of Set nodes")
    print(f"  n8n: {low:g}-{high:g} ms per node, in memory, the execution saved once at the end")
    for result in overhead:
        ratio = result["ms_per_step_median"] / high
        print(
            f"  ours, {result['steps']:>3} steps: {result['ms_per_step_median']:.2f} ms per step "
            f"({ratio:.1f}x n8n's upper figure), each step recorded in its own transaction "
            "under its lease"
        )
    return {"n8n_ms_per_node": N8N_MS_PER_NODE}


# -- under a real cluster ---------------------------------------------------------------


class Cluster:
    """A real ``qcluster`` (tests/workflows/qcluster_engine.py) on the benchmark's database."""

    def __init__(self, *, workers: int, env: dict[str, str], log: Path) -> None:
        self.log = log
        child_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "bizagent.settings_test",
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "BIZAGENT_VAR_DIR": str(VAR_DIR),
            "BIZAGENT_Q_WORKERS": str(workers),
            "BIZAGENT_LOG_LEVEL": "WARNING",
            **env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "tests/workflows/qcluster_engine.py"],
            cwd=ROOT,
            env=child_env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=30)
        for pid in [*descendants(self.process.pid), self.process.pid]:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)


def runs_drain(workflow: Workflow, count: int, *, timeout: float) -> dict[str, Any]:
    """Queue ``count`` runs at once (each through ``run_start``) and wait for all to end."""
    started = time.perf_counter()
    ids = [
        run_start(workflow=workflow, input={"seed": n}, triggered_by=None).pk for n in range(count)
    ]
    queued = time.perf_counter() - started
    open_runs = Run.objects.filter(pk__in=ids, status__in=Run.OPEN_STATUSES)
    wait_until(lambda: not open_runs.exists(), timeout=timeout, interval=0.1)
    elapsed = time.perf_counter() - started
    runs = Run.objects.filter(pk__in=ids)
    steps = StepRun.objects.filter(run__in=ids, parent__isnull=True)
    return {
        "runs": count,
        "seconds": elapsed,
        "queueing_seconds": queued,
        "runs_per_second": count / elapsed,
        "steps_per_second": steps.filter(status=StepRun.Status.SUCCEEDED).count() / elapsed,
        "succeeded": runs.filter(status=Run.Status.SUCCEEDED).count(),
        "not_succeeded": runs.exclude(status=Run.Status.SUCCEEDED).count(),
    }


def cluster_warm(workflow: Workflow, *, runs: int = 4) -> None:
    """A few runs through the cluster first: workers up, imports and caches warm in
    each worker (the first model call of a process also loads the Harmony encoding)."""
    ids = [
        run_start(workflow=workflow, input={"seed": 0}, triggered_by=None).pk for _ in range(runs)
    ]
    if not wait_until(
        lambda: not Run.objects.filter(pk__in=ids, status__in=Run.OPEN_STATUSES).exists(),
        timeout=120,
    ):
        raise SystemExit("the cluster did not finish its warm-up runs in 120 s")


def most_at_once(step_runs: list[StepRun]) -> int:
    """How many of ``step_runs`` were running at the same moment, at most."""
    events = sorted(
        [(sr.started_at, 1) for sr in step_runs if sr.started_at and sr.finished_at]
        + [(sr.finished_at, -1) for sr in step_runs if sr.started_at and sr.finished_at],
        key=lambda event: (event[0], event[1]),
    )
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def show_drain(label: str, result: dict[str, Any]) -> None:
    print(
        f"  {label}: {result['runs']} runs drained in {result['seconds']:.1f} s "
        f"({result['runs_per_second']:.1f} runs/s, {result['steps_per_second']:.1f} steps/s; "
        f"queueing took {result['queueing_seconds']:.1f} s); "
        f"{result['succeeded']} succeeded, {result['not_succeeded']} did not"
    )


def section_throughput(args: argparse.Namespace) -> dict[str, Any]:
    """100 concurrent runs of a 5-step chain on a real qcluster with 2 workers."""
    print(f"\n# Throughput: {args.concurrent} runs of a 5-step chain, qcluster with 2 workers")
    workflow = chain_workflow(5, key="cluster-chain-5")
    cluster = Cluster(workers=2, env={}, log=VAR_DIR / "cluster-throughput.log")
    try:
        cluster_warm(workflow)
        result = runs_drain(workflow, args.concurrent, timeout=600)
    finally:
        cluster.stop()
    show_drain("5 set-variables steps", result)
    return result


def section_latency(args: argparse.Namespace) -> dict[str, Any]:
    """The same with an llm step (fake gpt-oss, ``--latency`` s per call), and 4 parallel
    llm branches in one run."""
    latency = args.latency
    print(
        f"\n# With the model: an llm step answering after {latency:g} s "
        "(fake gpt-oss, vLLM protocol), qcluster with 2 workers"
    )
    harmony_encoding()  # the offline vocab, built once here for the workers to share
    fake = FakeGptOss()
    fake.responder = lambda request: FakeReply(
        analysis="Short.", final="Hello there.", delay=latency
    )
    results: dict[str, Any] = {}
    with fake:
        env = {
            "BIZAGENT_LLM_BACKEND": "vllm",
            "BIZAGENT_LLM_BASE_URL": fake.base_url("vllm"),
            "BIZAGENT_LLM_MAX_RETRIES": "0",
        }
        cluster = Cluster(workers=2, env=env, log=VAR_DIR / "cluster-latency.log")
        try:
            workflow = llm_chain_workflow(key="cluster-llm-5")
            cluster_warm(workflow)
            result = runs_drain(workflow, args.concurrent, timeout=900)
            ideal = args.concurrent * latency / 2
            show_drain("4 set-variables + 1 llm step", result)
            print(
                f"    ideal with 2 workers: {ideal:.0f} s ({args.concurrent} x {latency:g} s / 2); "
                f"ours {result['seconds']:.1f} s = {result['seconds'] / ideal:.2f}x the ideal"
            )
            results["llm_chain"] = {**result, "ideal_seconds": ideal}
            fan = fan_out_workflow(4, key="cluster-fan-4")
            walls, overlaps = [], []
            for _ in range(args.fan_runs):
                run = run_start(workflow=fan, input={}, triggered_by=None)
                started = time.perf_counter()
                wait_until(
                    lambda run=run: (
                        not Run.objects.filter(pk=run.pk, status__in=Run.OPEN_STATUSES).exists()
                    ),
                    timeout=120,
                    interval=0.05,
                )
                walls.append(time.perf_counter() - started)
                run.refresh_from_db()
                if run.status != Run.Status.SUCCEEDED:
                    raise SystemExit(f"fan-out run {run.pk} ended {run.status}: {run.error}")
                branches = list(run.step_runs.filter(step__block="llm"))
                overlaps.append(most_at_once(branches))
            wall = statistics.median(walls)
            print(
                f"  4 parallel llm branches, {args.fan_runs} runs one after another: "
                f"{wall:.2f} s wall median (in series: {4 * latency:g} s; "
                f"2 workers at best: {2 * latency:g} s); branches running at once: "
                f"{max(overlaps)} at most"
            )
            results["fan_out"] = {"wall_median": wall, "walls": walls, "at_once": overlaps}
        finally:
            cluster.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs: a smoke check")
    parser.add_argument("--runs", type=int, default=None, help="runs per chain (default 10)")
    parser.add_argument("--concurrent", type=int, default=None, help="runs queued at once")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per model call")
    parser.add_argument("--profile", action="store_true", help="cProfile one 100-step chain")
    parser.add_argument("--skip-cluster", action="store_true", help="only the in-process parts")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args()
    args.runs = args.runs or (3 if args.quick else 10)
    args.concurrent = args.concurrent or (20 if args.quick else 100)
    args.fan_runs = 2 if args.quick else 5
    print(f"bizagent workflow engine benchmark (SQLite in {VAR_DIR})")
    results: dict[str, Any] = {"overhead": section_overhead(args)}
    if not args.skip_cluster:
        results["throughput"] = section_throughput(args)
        results["latency"] = section_latency(args)
    results["bar"] = section_bar(args, results["overhead"])
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
