"""Moving a run forward after a step is recorded: which steps are ready, which are
skipped, and how the run ends. Called inside the recording transaction, with the run
row locked, so two branches finishing at once cannot both miss (or both create) a join.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from workflows.models import Edge, Run, Step, StepRun, Workflow
from workflows.services.context import run_ctx_values
from workflows.services.runs import run_end, step_idempotency_key
from workflows.templates import TemplateError, template_render

#: Statuses whose output templates may read.
FINISHED_OK = (StepRun.Status.SUCCEEDED, StepRun.Status.HANDLED_ERROR)
OPEN = (StepRun.Status.PENDING, StepRun.Status.RUNNING, StepRun.Status.WAITING)


@dataclass(frozen=True)
class RunGraph:
    """A workflow version's steps and edges, as the engine walks them."""

    workflow_id: int
    #: Every step by name (tool-only ones included: they are an agent's tools).
    by_name: dict[str, Step]
    #: Graph steps (not tool-only) by id, in position order.
    steps: dict[int, Step]
    incoming: dict[int, list[Edge]] = field(default_factory=dict)


_CACHE: OrderedDict[tuple[int, Any], RunGraph] = OrderedDict()
_CACHE_SIZE = 64


def run_graph(*, workflow: Workflow) -> RunGraph:
    """The graph of ``workflow``. Versions that are no longer drafts never change, so
    their graph is cached per process (two queries saved on every step)."""
    cacheable = workflow.status != Workflow.Status.DRAFT
    key = (workflow.pk, workflow.updated_at)
    if cacheable and key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    steps = list(Step.objects.filter(workflow_id=workflow.pk).order_by("position", "id"))
    incoming: dict[int, list[Edge]] = {}
    for edge in Edge.objects.filter(workflow_id=workflow.pk).order_by("id"):
        incoming.setdefault(edge.target_id, []).append(edge)
    graph = RunGraph(
        workflow_id=workflow.pk,
        by_name={step.name: step for step in steps},
        steps={step.pk: step for step in steps if not step.tool_only},
        incoming=incoming,
    )
    if cacheable:
        _CACHE[key] = graph
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return graph


def steps_scope(*, run: Run) -> dict[str, dict[str, Any]]:
    """``steps`` of the template scope: the graph steps of ``run`` that finished."""
    rows = StepRun.objects.filter(run=run, parent__isnull=True, status__in=FINISHED_OK).values(
        "step__name", "output", "port", "status"
    )
    return {
        row["step__name"]: {"output": row["output"], "port": row["port"], "status": row["status"]}
        for row in rows
    }


def run_advance(*, run: Run, graph: RunGraph) -> list[int]:
    """Create the step runs that became ready (pending) or unreachable (skipped, which
    propagates); returns the new pending ids, and ends the run when nothing is open.

    A step runs once all its sources are done and at least one edge into it was taken
    (its source left by the edge's port); if none was taken it is skipped.
    """
    rows = {sr.step_id: sr for sr in StepRun.objects.filter(run=run, parent__isnull=True)}
    ready: list[int] = []
    now = timezone.now()
    changed = True
    while changed:
        changed = False
        for step_id, step in graph.steps.items():
            edges = graph.incoming.get(step_id)
            if step_id in rows or not edges:
                continue
            sources = [rows.get(edge.source_id) for edge in edges]
            if any(s is None or s.status not in StepRun.DONE_STATUSES for s in sources):
                continue
            taken = any(
                s is not None and s.status in FINISHED_OK and s.port == edge.port
                for edge, s in zip(edges, sources, strict=True)
            )
            created = StepRun.objects.create(
                run=run,
                step=step,
                status=StepRun.Status.PENDING if taken else StepRun.Status.SKIPPED,
                finished_at=None if taken else now,
                idempotency_key=step_idempotency_key(run_id=run.pk, step_id=step_id),
            )
            rows[step_id] = created
            changed = True
            if taken:
                ready.append(created.pk)
    if not ready and not any(sr.status in OPEN for sr in rows.values()):
        run_finish(run=run, step_runs=list(rows.values()))
    return ready


def run_finish(*, run: Run, step_runs: list[StepRun]) -> None:
    """Every step is done: render the output mapping and end the run (succeeded,
    partially succeeded with handled errors, failed when a step failed or the mapping
    does not resolve)."""
    statuses = {sr.status for sr in step_runs}
    if StepRun.Status.FAILED in statuses:
        run_end(run=run, status=Run.Status.FAILED, error="a step failed")
        return
    scope = {
        "input": run.input,
        "steps": steps_scope(run=run),
        "vars": run.vars,
        "ctx": run_ctx_values(run=run),
    }
    try:
        output = template_render(run.workflow.output or {}, scope, where="output")
    except TemplateError as exc:
        run_end(run=run, status=Run.Status.FAILED, error=f"the output mapping: {exc.message}")
        return
    status = (
        Run.Status.PARTIALLY_SUCCEEDED
        if StepRun.Status.HANDLED_ERROR in statuses
        else Run.Status.SUCCEEDED
    )
    run_end(run=run, status=status, output=output)
