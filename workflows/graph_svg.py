"""A workflow's graph drawn as inline SVG on the server (no JavaScript, nothing vendored).

Pure: it takes a workflow document (steps by name, edges by step names). The layout is
layered: a step's row is the length of the longest path from the start to it, so every
edge points down. Boxes show the step's name and block; edges carry their port unless it
is ``out``. Tool-only steps (reachable only through an agent) stand apart in a column on
the right, joined by dashed lines to the agents that use them. Every piece of text is
escaped: names, blocks and ports come from people.
"""

from __future__ import annotations

from html import escape
from typing import Any

from workflows.blocks import block_get

BOX_W = 170
BOX_H = 46
GAP_X = 40
GAP_Y = 54
MARGIN = 20
FONT = "font-family:system-ui,sans-serif"


def _tools_of(step: dict[str, Any]) -> list[str]:
    """The steps an agent step calls as tools, as its block reads its config."""
    config = step.get("config") or {}
    block = block_get(str(step.get("block")))
    if block is not None:
        try:
            return [str(name) for name in block.tool_names(config)]
        except Exception:  # a broken config draws no tool lines; the validator says why
            return []
    tools = config.get("tools") if isinstance(config, dict) else None
    return [str(name) for name in tools] if isinstance(tools, list) else []


def graph_layers(document: dict[str, Any]) -> dict[str, int]:
    """Each graph step's layer: the longest path to it from a step with no incoming edge.

    A cycle (only in a document the validator refuses) cannot lengthen paths forever:
    each step is placed once, in topological order, and what the order never reaches goes
    to the last layer.
    """
    steps = [s for s in document.get("steps") or [] if not s.get("tool_only")]
    names = [str(s.get("name")) for s in steps]
    known = set(names)
    edges = [
        (str(e.get("from")), str(e.get("to")))
        for e in document.get("edges") or []
        if str(e.get("from")) in known and str(e.get("to")) in known
    ]
    incoming = {name: 0 for name in names}
    for _, target in edges:
        incoming[target] += 1
    layer = {name: 0 for name in names}
    ready = [name for name in names if incoming[name] == 0]
    placed: set[str] = set()
    while ready:
        name = ready.pop(0)
        placed.add(name)
        for source, target in edges:
            if source == name:
                layer[target] = max(layer[target], layer[name] + 1)
                incoming[target] -= 1
                if incoming[target] == 0:
                    ready.append(target)
    last = max(layer.values(), default=0)
    for name in names:
        if name not in placed:
            layer[name] = last + 1
    return layer


def _box(x: int, y: int, step: dict[str, Any], *, dashed: bool) -> str:
    name, block = escape(str(step.get("name"))), escape(str(step.get("block")))
    dash = ' stroke-dasharray="5 4"' if dashed else ""
    kind = "tool" if dashed else "step"
    return (
        f'<g class="{kind}" data-step="{name}">'
        f'<rect x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="#fff" '
        f'stroke="#417690" stroke-width="1.5"{dash}/>'
        f'<text x="{x + BOX_W // 2}" y="{y + 19}" text-anchor="middle" font-size="13" '
        f'font-weight="600" style="{FONT}">{name}</text>'
        f'<text x="{x + BOX_W // 2}" y="{y + 36}" text-anchor="middle" font-size="11" '
        f'fill="#666" style="{FONT}">{block}</text></g>'
    )


def workflow_graph_svg(document: dict[str, Any]) -> str:
    """The document's graph as an ``<svg>`` element (safe to put inline in a page)."""
    steps = [s for s in document.get("steps") or [] if isinstance(s, dict)]
    graph = [s for s in steps if not s.get("tool_only")]
    tools = [s for s in steps if s.get("tool_only")]
    layers = graph_layers(document)
    rows: dict[int, list[dict[str, Any]]] = {}
    for step in graph:
        rows.setdefault(layers[str(step.get("name"))], []).append(step)
    width_boxes = max((len(row) for row in rows.values()), default=0)
    pos: dict[str, tuple[int, int]] = {}
    for number, row in sorted(rows.items()):
        for index, step in enumerate(row):
            pos[str(step.get("name"))] = (
                MARGIN + index * (BOX_W + GAP_X),
                MARGIN + number * (BOX_H + GAP_Y),
            )
    tool_x = MARGIN + max(width_boxes, 1) * (BOX_W + GAP_X) + GAP_X
    tool_pos = {
        str(step.get("name")): (tool_x, MARGIN + index * (BOX_H + GAP_Y // 2))
        for index, step in enumerate(tools)
    }
    height = MARGIN * 2 + max(
        (max(rows, default=0) + 1) * (BOX_H + GAP_Y) - GAP_Y,
        len(tools) * (BOX_H + GAP_Y // 2),
        BOX_H,
    )
    width = (tool_x + BOX_W if tools else tool_x - GAP_X * 2) + MARGIN

    parts: list[str] = []
    for edge in document.get("edges") or []:
        source, target = str(edge.get("from")), str(edge.get("to"))
        if source not in pos or target not in pos:
            continue
        (sx, sy), (tx, ty) = pos[source], pos[target]
        x1, y1, x2, y2 = sx + BOX_W // 2, sy + BOX_H, tx + BOX_W // 2, ty
        port = str(edge.get("port") or "out")
        parts.append(
            f'<g class="edge" data-port="{escape(port)}"><line x1="{x1}" y1="{y1}" x2="{x2}" '
            f'y2="{y2}" stroke="#555" stroke-width="1.3" marker-end="url(#wf-arrow)"/>'
        )
        if port != "out":
            parts.append(
                f'<text x="{(x1 + x2) // 2 + 6}" y="{(y1 + y2) // 2 + 4}" font-size="11" '
                f'fill="#a33" style="{FONT}">{escape(port)}</text>'
            )
        parts.append("</g>")
    for step in graph:
        for tool in _tools_of(step):
            if tool not in tool_pos:
                continue
            (ax, ay), (tx, ty) = pos[str(step.get("name"))], tool_pos[tool]
            parts.append(
                f'<line class="tool-link" x1="{ax + BOX_W}" y1="{ay + BOX_H // 2}" x2="{tx}" '
                f'y2="{ty + BOX_H // 2}" stroke="#888" stroke-dasharray="4 4"/>'
            )
    for step in graph:
        x, y = pos[str(step.get("name"))]
        parts.append(_box(x, y, step, dashed=False))
    for step in tools:
        x, y = tool_pos[str(step.get("name"))]
        parts.append(_box(x, y, step, dashed=True))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="workflow-graph" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(str(document.get("name") or "workflow"))} graph">'
        '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#555"/></marker></defs>' + "".join(parts) + "</svg>"
    )
