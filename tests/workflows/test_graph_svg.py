"""The workflow graph drawn as SVG: layers by longest path, ports labelled, tools apart
with dashed links to their agent, every text escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from workflows.graph_svg import graph_layers, workflow_graph_svg

SVG = "{http://www.w3.org/2000/svg}"


def _doc() -> dict:
    return {
        "name": "Branchy",
        "steps": [
            {"name": "start", "block": "condition", "config": {}},
            {"name": "short", "block": "set-variables", "config": {}},
            {"name": "long_a", "block": "set-variables", "config": {}},
            {"name": "long_b", "block": "set-variables", "config": {}},
            {"name": "join", "block": "agent", "config": {"tools": ["lookup"]}},
            {"name": "lookup", "block": "http", "config": {}, "tool_only": True},
        ],
        "edges": [
            {"from": "start", "port": "true", "to": "short"},
            {"from": "start", "port": "false", "to": "long_a"},
            {"from": "long_a", "port": "out", "to": "long_b"},
            {"from": "short", "port": "out", "to": "join"},
            {"from": "long_b", "port": "out", "to": "join"},
        ],
    }


def test_a_step_sits_below_its_longest_path():
    assert graph_layers(_doc()) == {"start": 0, "short": 1, "long_a": 1, "long_b": 2, "join": 3}


def test_it_draws_boxes_ports_and_tools():
    svg = workflow_graph_svg(_doc())
    root = ET.fromstring(svg)  # noqa: S314  (our own output; parsing proves it well-formed)

    steps = [g.get("data-step") for g in root.iter(f"{SVG}g") if g.get("class") == "step"]
    tools = [g.get("data-step") for g in root.iter(f"{SVG}g") if g.get("class") == "tool"]
    assert sorted(steps) == ["join", "long_a", "long_b", "short", "start"]
    assert tools == ["lookup"]
    labels = [t.text for g in root.iter(f"{SVG}g") if g.get("class") == "edge" for t in g]
    assert sorted(label for label in labels if label) == ["false", "true"]  # no "out" label
    links = [el for el in root.iter(f"{SVG}line") if el.get("class") == "tool-link"]
    assert len(links) == 1 and links[0].get("stroke-dasharray")
    # The tool stands to the right of every graph step.
    tool_x = float(
        next(
            r.get("x")
            for g in root.iter(f"{SVG}g")
            if g.get("class") == "tool"
            for r in g
            if r.tag == f"{SVG}rect"
        )
    )
    step_xs = [
        float(r.get("x"))
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "step"
        for r in g
        if r.tag == f"{SVG}rect"
    ]
    assert tool_x > max(step_xs)


def test_text_is_escaped():
    doc = {
        "name": '<script>alert("x")</script>',
        "steps": [{"name": "a<b>", "block": '"><img src=x>', "config": {}}],
        "edges": [],
    }

    svg = workflow_graph_svg(doc)

    assert "<script>" not in svg and "<img" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg and "a&lt;b&gt;" in svg
    ET.fromstring(svg)  # noqa: S314  (our own output)


def test_a_cycle_still_draws():
    doc = {
        "name": "loop",
        "steps": [{"name": "a", "block": "x"}, {"name": "b", "block": "x"}],
        "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}],
    }

    assert set(graph_layers(doc)) == {"a", "b"}
    assert re.search(r'data-step="a"', workflow_graph_svg(doc))
