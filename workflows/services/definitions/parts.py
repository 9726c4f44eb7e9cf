"""A workflow's parts: add, change or remove one step or one edge (each a whole-document
edit, validated like any other).
"""

from __future__ import annotations

import copy
from typing import Any

from decisions.actors import Actor
from workflows.errors import WorkflowInvalid, problem
from workflows.models import Edge, Step, Workflow
from workflows.services.definitions.editing import _edit

# -- steps and edges -------------------------------------------------------------------


def _step_index(document: dict[str, Any], name: str) -> int:
    for index, step in enumerate(document["steps"]):
        if step.get("name") == name:
            return index
    raise Step.DoesNotExist(f"no step named {name!r}")


def step_add(*, workflow_id: int, step: dict[str, Any], actor: Actor, intent: str = "") -> Workflow:
    """Add a step (a step document: name and block at least). Returns the draft changed.

    The whole document must stay valid, and a step with no edge into it is a second
    start (or, tool-only, a tool no agent uses): so ``step`` may carry ``"edges"``, a list
    of edges (``{"from", "port", "to"}``) added in the same write to connect it.
    """

    def change(document: dict[str, Any]) -> dict[str, Any]:
        new = copy.deepcopy(step)
        edges = new.pop("edges", []) if isinstance(new, dict) else []
        document["steps"].append(new)
        if isinstance(edges, list):
            document["edges"].extend(edges)
        else:  # left for the validator to name
            document["edges"].append(edges)
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        intent=intent,
        change=change,
        what="step_added",
        data={"step": step.get("name") if isinstance(step, dict) else None},
    )


def step_update(
    *, workflow_id: int, step_name: str, step: dict[str, Any], actor: Actor, intent: str = ""
) -> Workflow:
    """Replace step ``step_name`` with ``step`` (its name may change: edges follow it).

    ``Step.DoesNotExist`` when there is no such step.
    """
    new_name = step.get("name", step_name) if isinstance(step, dict) else step_name

    def change(document: dict[str, Any]) -> dict[str, Any]:
        index = _step_index(document, step_name)
        document["steps"][index] = {"name": step_name, **copy.deepcopy(step)}
        if new_name != step_name:
            for edge in document["edges"]:
                for end in ("from", "to"):
                    if edge.get(end) == step_name:
                        edge[end] = new_name
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        intent=intent,
        change=change,
        what="step_updated",
        data={"step": step_name, **({"renamed_to": new_name} if new_name != step_name else {})},
        renames={step_name: new_name} if isinstance(new_name, str) else None,
    )


def step_delete(*, workflow_id: int, step_name: str, actor: Actor, intent: str = "") -> Workflow:
    """Remove a step and the edges into and out of it."""

    def change(document: dict[str, Any]) -> dict[str, Any]:
        del document["steps"][_step_index(document, step_name)]
        document["edges"] = [
            edge
            for edge in document["edges"]
            if step_name not in (edge.get("from"), edge.get("to"))
        ]
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        intent=intent,
        change=change,
        what="step_deleted",
        data={"step": step_name},
    )


def _edge_triple(edge: dict[str, Any]) -> tuple[Any, str, Any]:
    return edge.get("from"), edge.get("port") or "out", edge.get("to")


def edge_add(*, workflow_id: int, edge: dict[str, Any], actor: Actor, intent: str = "") -> Edge:
    """Add an edge ``{"from": step, "port": "out", "to": step}``; returns the new Edge."""
    triple = _edge_triple(edge)

    def change(document: dict[str, Any]) -> dict[str, Any]:
        if triple in {_edge_triple(e) for e in document["edges"]}:
            raise WorkflowInvalid(
                [
                    problem(
                        "DUPLICATE_EDGE",
                        f"there is an edge from {triple[0]}:{triple[1]} to {triple[2]} already",
                        step=str(triple[0]),
                        path="edges",
                    )
                ]
            )
        document["edges"].append({"from": triple[0], "port": triple[1], "to": triple[2]})
        return document

    draft = _edit(
        workflow_id=workflow_id,
        actor=actor,
        intent=intent,
        change=change,
        what="edge_added",
        data={"edge": {"from": triple[0], "port": triple[1], "to": triple[2]}},
    )
    return Edge.objects.get(
        workflow=draft, source__name=triple[0], port=triple[1], target__name=triple[2]
    )


def edge_delete(*, workflow_id: int, edge_id: int, actor: Actor, intent: str = "") -> Workflow:
    """Remove an edge of ``workflow_id`` (on a published version: from its new draft).

    ``Edge.DoesNotExist`` when the workflow has no such edge.
    """
    row = Edge.objects.select_related("source", "target").get(pk=edge_id, workflow_id=workflow_id)
    triple = (row.source.name, row.port, row.target.name)

    def change(document: dict[str, Any]) -> dict[str, Any]:
        kept = [e for e in document["edges"] if _edge_triple(e) != triple]
        if len(kept) == len(document["edges"]):
            raise Edge.DoesNotExist(f"the draft has no edge {triple[0]}:{triple[1]} → {triple[2]}")
        document["edges"] = kept
        return document

    return _edit(
        workflow_id=workflow_id,
        actor=actor,
        intent=intent,
        change=change,
        what="edge_deleted",
        data={"edge": {"from": triple[0], "port": triple[1], "to": triple[2]}},
    )
