"""Moving a run forward after a step is recorded: which steps are ready, which are
skipped, and how the run ends. Called inside the recording transaction, with the run
row locked, so two branches finishing at once cannot both miss (or both create) a join.
"""

from __future__ import annotations

import functools
import json
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from workflows.models import Edge, Run, Step, StepRun, Workflow
from workflows.services.context import run_ctx_values
from workflows.services.runs import run_end, step_idempotency_key
from workflows.templates import TemplateError, template_render, template_scan

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
    #: Step id → the steps its edges lead to.
    targets: dict[int, set[int]] = field(default_factory=dict)


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
    targets: dict[int, set[int]] = {}
    for edge in Edge.objects.filter(workflow_id=workflow.pk).order_by("id"):
        incoming.setdefault(edge.target_id, []).append(edge)
        targets.setdefault(edge.source_id, set()).add(edge.target_id)
    graph = RunGraph(
        workflow_id=workflow.pk,
        by_name={step.name: step for step in steps},
        steps={step.pk: step for step in steps if not step.tool_only},
        incoming=incoming,
        targets=targets,
    )
    if cacheable:
        _CACHE[key] = graph
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return graph


@functools.lru_cache(maxsize=1024)
def _step_refs(canonical: str) -> frozenset[str]:
    refs, _ = template_scan(json.loads(canonical))
    return frozenset(ref.step for ref in refs if ref.step is not None)


def template_step_names(value: Any) -> frozenset[str]:
    """The steps that templates in ``value`` (a config, an output mapping) name.

    Parsed once per distinct value (cached by its canonical JSON), so a step executed
    again and again does not parse its templates again to learn what it reads. A
    malformed template names nothing here: rendering reports it.
    """
    return _step_refs(json.dumps(value, sort_keys=True, ensure_ascii=False))


def steps_scope(*, run: Run, names: Collection[str] | None = None) -> dict[str, dict[str, Any]]:
    """``steps`` of the template scope: the graph steps of ``run`` that finished.

    With ``names``, only those steps (what the templates at hand read): a step in a long
    chain then reads one or two earlier outputs, not every one before it, which kept the
    cost of a step growing with its position. A name left out resolves exactly as a step
    that has not run.
    """
    if names is not None and not names:
        return {}
    rows = StepRun.objects.filter(run=run, parent__isnull=True, status__in=FINISHED_OK)
    if names is not None:
        rows = rows.filter(step__name__in=list(names))
    return {
        row["step__name"]: {"output": row["output"], "port": row["port"], "status": row["status"]}
        for row in rows.values("step__name", "output", "port", "status")
    }


@dataclass
class _Row:
    """What advancing needs of a step run: no input, output or timestamps to decode."""

    pk: int
    status: str
    port: str


def run_advance(*, run: Run, graph: RunGraph) -> list[StepRun]:
    """Create the step runs that became ready (pending) or unreachable (skipped, which
    propagates); returns the new pending ones, and ends the run when nothing is open.

    A step runs once all its sources are done and at least one edge into it was taken
    (its source left by the edge's port); if none was taken it is skipped. The pending
    step runs come back with ``run`` and their (graph) step attached, so the worker that
    goes straight on with one needs not read it back.
    """
    rows = {
        step_id: _Row(pk, status, port)
        for pk, step_id, status, port in StepRun.objects.filter(
            run=run, parent__isnull=True
        ).values_list("pk", "step_id", "status", "port")
    }
    ready: list[StepRun] = []
    now = timezone.now()
    # Only a step an edge leads to from a step run that exists can be due: the others
    # are passed over without looking at their sources (a long chain stays cheap).
    due = {target for step_id in rows for target in graph.targets.get(step_id, ())}
    changed = True
    while changed:
        changed = False
        for step_id, step in graph.steps.items():
            edges = graph.incoming.get(step_id)
            if step_id not in due or step_id in rows or not edges:
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
            rows[step_id] = _Row(created.pk, created.status, created.port)
            due |= graph.targets.get(step_id, set())
            changed = True
            if taken:
                ready.append(created)
    if not ready and not any(row.status in OPEN for row in rows.values()):
        run_finish(run=run, statuses={row.status for row in rows.values()})
    return ready


def run_finish(*, run: Run, statuses: Collection[str]) -> None:
    """Every step is done (``statuses`` are its step runs'): render the output mapping
    and end the run (succeeded, partially succeeded with handled errors, failed when a
    step failed or the mapping does not resolve)."""
    if StepRun.Status.FAILED in statuses:
        run_end(run=run, status=Run.Status.FAILED, error="a step failed")
        return
    mapping = run.workflow.output or {}
    scope = {
        "input": run.input,
        "steps": steps_scope(run=run, names=template_step_names(mapping)),
        "vars": run.vars,
        "ctx": run_ctx_values(run=run),
    }
    try:
        output = template_render(mapping, scope, where="output")
    except TemplateError as exc:
        run_end(run=run, status=Run.Status.FAILED, error=f"the output mapping: {exc.message}")
        return
    status = (
        Run.Status.PARTIALLY_SUCCEEDED
        if StepRun.Status.HANDLED_ERROR in statuses
        else Run.Status.SUCCEEDED
    )
    run_end(run=run, status=status, output=output)
