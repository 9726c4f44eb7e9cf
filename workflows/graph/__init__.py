"""The one structural validator of workflow documents (pure: no ORM, no settings).

The API, the admin, the import command and the copilot all ask ``graph_validate``
whether a document may be saved; it answers with every problem at once, each a
``Problem`` ``{"code", "message", "step", "path"}`` where ``path`` points into the
document (``steps.2.config.url``, ``edges.0.to``) and ``message`` names the offending
value so a person can fix it without reading code.

The checks run in layers: the shape of the JSON (keys, types, names), each step on its
own (block, config schema, retry, on_error), the edges and the graph they draw (ports,
one start, reachability, cycles), the agents' tools, the template references (a step
reads only what has finished upstream of it) and the subflow targets. A layer that
cannot be trusted (a step whose config fails its schema, a graph with no single start)
keeps the later checks that depend on it quiet instead of piling up echoes of one
mistake.

Each layer is a mixin over the shared state (``base``), one module per seam:
``document`` (the fields and their defaults, ``document_normalise``), ``shape`` (keys,
types, names), ``config`` (a step's block config, on_error, retry), ``topology`` (edges,
ports, start, reachability, cycles), ``references`` (tools and templates) and
``subflows``; ``_Validator`` below stacks them and runs them in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflows.blocks import Block, blocks_all
from workflows.errors import Problem, problem
from workflows.graph.base import SubflowLookup, SubflowTarget, _kind
from workflows.graph.config import ON_ERROR_VALUES
from workflows.graph.document import STEP_NAME, document_key, document_normalise
from workflows.graph.references import _ReferenceChecks
from workflows.graph.shape import _ShapeChecks
from workflows.graph.subflows import _SubflowChecks
from workflows.graph.topology import _TopologyChecks

__all__ = [
    "ON_ERROR_VALUES",
    "STEP_NAME",
    "SubflowTarget",
    "document_key",
    "document_normalise",
    "graph_validate",
]


class _Validator(_ShapeChecks, _TopologyChecks, _ReferenceChecks, _SubflowChecks):
    """The layers, run in order over one document."""

    def run(self) -> list[Problem]:
        self.check_document()
        self.check_steps()
        if not isinstance(self.document.get("steps"), list):
            # Without steps, every edge and reference would be reported as unknown: noise.
            return self.problems
        self.check_edges()
        self.check_graph()
        self.check_tools()
        self.check_templates()
        self.check_subflows()
        return self.problems


def graph_validate(
    document: dict[str, Any],
    *,
    blocks: Mapping[str, Block] | None = None,
    subflow_lookup: SubflowLookup | None = None,
) -> list[Problem]:
    """Every problem with a workflow document, in document order; ``[]`` when it is valid.

    ``blocks`` is the block catalogue (default: every registered block); ``subflow_lookup``
    finds the workflow a subflow step names (by key or id) — without it subflow targets
    are not checked. Pure: reads no database and no settings.
    """
    if not isinstance(document, dict):
        return [
            problem("TYPE", f"a workflow document is a JSON object, not {_kind(document)}", path="")
        ]
    catalogue = blocks_all() if blocks is None else blocks
    return _Validator(document, catalogue, subflow_lookup).run()
