"""Layer 3, the edges and the graph they draw: ports, one start, reachability, cycles."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from workflows.graph.base import _join, _kind, _State, _Step
from workflows.graph.document import EDGE_KEYS


def _cycle_in(members: set[str], succ: Mapping[str, list[str]], order: list[str]) -> list[str]:
    """The shortest cycle through the first (in document order) of a strongly connected set."""
    start = next(name for name in order if name in members)
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for nxt in succ.get(node, []):
                if nxt not in members:
                    continue
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return list(reversed(path))
                if nxt not in parent:
                    parent[nxt] = node
                    following.append(nxt)
        frontier = following
    return [start]  # unreachable for a strongly connected set; kept total for mypy


def _strongly_connected(nodes: list[str], succ: Mapping[str, list[str]]) -> list[set[str]]:
    """Tarjan's components (iterative, so a long chain cannot hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(succ.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ.get(child, []))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


class _TopologyChecks(_State):
    """The edges between the steps that passed the shape checks, and the graph they draw."""

    # ---- layer 3: edges and the graph

    def check_edges(self) -> None:
        edges = self.document.get("edges", [])
        if not isinstance(edges, list):
            self.add("TYPE", f"edges must be a list, not {_kind(edges)}", path="edges")
            return
        seen: dict[tuple[str, str, str], int] = {}
        for index, raw in enumerate(edges):
            where = f"edges.{index}"
            if not isinstance(raw, dict):
                self.add("TYPE", f"edge {index} must be an object, not {_kind(raw)}", path=where)
                continue
            for key in sorted(set(raw) - EDGE_KEYS, key=str):
                self.add(
                    "UNKNOWN_KEY",
                    f"unknown key {key!r} in edge {index} (allowed: from, port, to)",
                    path=_join(where, str(key)),
                )
            ends: dict[str, _Step | None] = {}
            for end in ("from", "to"):
                value = raw.get(end)
                ends[end] = None
                if value is None or value == "":
                    self.add(
                        "MISSING",
                        f"edge {index} needs {end!r} (a step name)",
                        path=f"{where}.{end}",
                    )
                elif not isinstance(value, str):
                    self.add(
                        "TYPE",
                        f"edge {index}'s {end!r} must be a step name, not {_kind(value)}",
                        path=f"{where}.{end}",
                    )
                elif value not in self.steps:
                    self.add(
                        "UNKNOWN_STEP",
                        f"edge {index} {'starts' if end == 'from' else 'ends'} at step {value!r}, "
                        "which does not exist",
                        path=f"{where}.{end}",
                    )
                elif self.steps[value].tool_only:
                    # A tool-only step runs only when an agent calls it and hands its
                    # output back to that agent: no edge leads in or out (SCHEMA, since
                    # the edge itself, not its port, is what cannot be).
                    self.add(
                        "SCHEMA",
                        f"edge {index} {'starts' if end == 'from' else 'ends'} at step {value!r}, "
                        "which is tool_only: it runs only when an agent calls it, so no edge "
                        "may lead into or out of it",
                        step=value,
                        path=f"{where}.{end}",
                    )
                else:
                    ends[end] = self.steps[value]
            port = raw.get("port", "out")
            source, target = ends["from"], ends["to"]
            port_ok = True
            if not isinstance(port, str) or not port:
                self.add(
                    "TYPE",
                    f"edge {index}'s port must be a port name, not {port!r}",
                    path=f"{where}.port",
                )
                port_ok = False
            elif source is not None and source.ports is not None:
                port_ok = self.check_port(source, port, where=f"{where}.port", index=index)
            if source is None or target is None or not port_ok:
                continue
            assert isinstance(port, str)
            triple = (source.name, port, target.name)
            if triple in seen:
                self.add(
                    "SCHEMA",
                    f"edge {index} repeats edge {seen[triple]} "
                    f"({source.name} --{port}--> {target.name})",
                    step=source.name,
                    path=where,
                )
                continue
            seen[triple] = index
            self.succ.setdefault(source.name, []).append(target.name)
            self.pred.setdefault(target.name, []).append(source.name)
            self.edge_index.setdefault((source.name, target.name), index)

    def check_port(self, source: _Step, port: str, *, where: str, index: int) -> bool:
        assert source.ports is not None
        if port in source.ports:
            return True
        if port == "error":
            if source.on_error == "error_branch":
                return True
            self.add(
                "UNKNOWN_PORT",
                f"edge {index} leaves step {source.name!r} by 'error', but that port exists only "
                f"when the step's on_error is error_branch (it is {source.on_error!r})",
                step=source.name,
                path=where,
            )
            return False
        offered = list(source.ports) + (["error"] if source.on_error == "error_branch" else [])
        self.add(
            "UNKNOWN_PORT",
            f"edge {index} leaves step {source.name!r} by port {port!r}, which it does not have "
            f"(it has: {', '.join(offered)})",
            step=source.name,
            path=where,
        )
        return False

    def check_graph(self) -> None:
        flow = [name for name in self.order if not self.steps[name].tool_only]
        starts = [name for name in flow if not self.pred.get(name)]
        if not flow:
            if self.steps:
                self.add(
                    "START",
                    "every step is tool_only: a workflow needs one step that is not, to start at",
                    path="steps",
                )
            else:
                self.add(
                    "START", "the workflow has no steps: it needs one to start at", path="steps"
                )
            self.graph_trusted = False
        elif not starts:
            self.add(
                "START",
                "no step to start at: every step has an incoming edge "
                f"({', '.join(flow)}), so the graph loops back on itself",
                path="edges",
            )
            self.graph_trusted = False
        elif len(starts) > 1:
            self.add(
                "START",
                f"{len(starts)} steps have no incoming edge ({', '.join(starts)}): exactly one "
                "may, the step the run starts at; connect the others with edges",
                path="edges",
            )
            self.graph_trusted = False

        cycles = [
            component
            for component in _strongly_connected(flow, self.succ)
            if len(component) > 1 or any(n in self.succ.get(n, []) for n in component)
        ]
        on_cycle: set[str] = set()
        for component in sorted(cycles, key=lambda c: min(self.steps[n].index for n in c)):
            cycle = _cycle_in(component, self.succ, self.order)
            on_cycle |= component
            closing = self.edge_index.get((cycle[-1], cycle[0]))
            self.add(
                "CYCLE",
                f"steps {' → '.join([*cycle, cycle[0]])} form a cycle: a workflow is a graph "
                "without loops (an agent step loops on its own)",
                step=cycle[0],
                path=f"edges.{closing}" if closing is not None else "edges",
            )
        if cycles:
            self.graph_trusted = False

        reached: set[str] = set()
        pending = list(starts)
        while pending:
            node = pending.pop()
            if node in reached:
                continue
            reached.add(node)
            pending.extend(self.succ.get(node, []))
        for name in flow:
            # A cycle with no way in is reported as the cycle (or as no start) already.
            if name not in reached and name not in on_cycle:
                self.add(
                    "UNREACHABLE",
                    f"step {name!r} cannot be reached: no path of edges leads to it from "
                    f"the start ({', '.join(starts) or 'none'})",
                    step=name,
                    path=f"steps.{self.steps[name].index}",
                )
