"""Layers 4 and 5, what steps name: the agents' tools and the template references."""

from __future__ import annotations

from typing import Any

from workflows.graph.base import _State
from workflows.graph.topology import _cycle_in, _strongly_connected
from workflows.templates import template_scan

#: The context keys only a system workflow may read (they reach the internal API).
SYSTEM_CTX_KEYS = ("internal_api_token", "internal_base_url")
#: The context keys the output mapping may not read: it is rendered once the steps are
#: done (there is no step, so no step name or idempotency key) and it is stored and
#: returned to callers (so no internal API token, nor where it is sent).
NOT_IN_OUTPUT_CTX_KEYS = ("step_name", "idempotency_key", *SYSTEM_CTX_KEYS)


class _ReferenceChecks(_State):
    """The steps an agent names as tools, and what each template may read."""

    # ---- layer 4: agents' tools

    def check_tools(self) -> None:
        all_known = True
        for name in self.order:
            step = self.steps[name]
            if step.tools is None:
                all_known = False
                continue
            raw_tools = step.config.get("tools")
            for position, tool in enumerate(step.tools):
                if (
                    isinstance(raw_tools, list)
                    and position < len(raw_tools)
                    and raw_tools[position] == tool
                ):
                    path = f"{step.where}.config.tools.{position}"
                else:
                    path = f"{step.where}.config"
                target = self.steps.get(tool)
                if target is None:
                    self.add(
                        "UNKNOWN_STEP",
                        f"step {name!r} names tool {tool!r}, but no step has that name",
                        step=name,
                        path=path,
                    )
                    continue
                self.users.setdefault(tool, []).append(name)
                if target.block is not None and not target.block.can_be_tool:
                    self.add(
                        "NOT_A_TOOL",
                        f"step {name!r} names {tool!r} as a tool, but its block "
                        f"{target.block.slug!r} cannot be a tool",
                        step=name,
                        path=path,
                    )
                elif not target.tool_only:
                    self.add(
                        "NOT_A_TOOL",
                        f"step {name!r} names {tool!r} as a tool, but a tool must be tool_only "
                        f"(run only when an agent calls it): set tool_only on step {tool!r}",
                        step=name,
                        path=path,
                    )
        if not all_known:
            return
        for name in self.order:
            step = self.steps[name]
            if step.tool_only and name not in self.users:
                self.add(
                    "UNREACHABLE",
                    f"tool_only step {name!r} is not a tool of any agent step, "
                    "so nothing can run it",
                    step=name,
                    path=step.where,
                )
        tool_steps = [n for n in self.order if self.steps[n].tool_only]
        tool_succ = {
            n: [
                t
                for t in (self.steps[n].tools or [])
                if t in self.steps and self.steps[t].tool_only
            ]
            for n in tool_steps
        }
        for component in _strongly_connected(tool_steps, tool_succ):
            if len(component) > 1 or any(n in tool_succ.get(n, []) for n in component):
                cycle = _cycle_in(component, tool_succ, self.order)
                self.add(
                    "CYCLE",
                    f"tool steps {' → '.join([*cycle, cycle[0]])} call one another in a circle",
                    step=cycle[0],
                    path=f"{self.steps[cycle[0]].where}.config",
                )

    # ---- layer 5: template references

    def ancestors(self) -> dict[str, set[str] | None]:
        """The steps whose output each step may read; ``None`` when it cannot be known."""
        result: dict[str, set[str] | None] = {}
        for name in self.order:
            if self.steps[name].tool_only:
                continue
            seen: set[str] = set()
            pending = list(self.pred.get(name, []))
            while pending:
                node = pending.pop()
                if node not in seen:
                    seen.add(node)
                    pending.extend(self.pred.get(node, []))
            result[name] = seen - {name}

        def of_tool(name: str, visiting: frozenset[str]) -> set[str] | None:
            users = self.users.get(name, [])
            if not users or name in visiting:
                return None
            found: set[str] | None = None
            for user in users:
                theirs = (
                    of_tool(user, visiting | {name})
                    if self.steps[user].tool_only
                    else result.get(user)
                )
                if theirs is None:
                    continue
                # A tool may be called from any of its agents: it may rely only on
                # what is upstream of all of them.
                found = set(theirs) if found is None else found & theirs
            return found

        for name in self.order:
            if self.steps[name].tool_only:
                result[name] = of_tool(name, frozenset())
        return result

    def check_templates(self) -> None:
        ancestors = self.ancestors()
        for name in self.order:
            step = self.steps[name]
            if step.tool_only:
                schema = step.input_schema or (step.block.input_schema if step.block else None)
            else:
                schema = self.workflow_input_schema
            self.check_refs(
                step.config,
                where=f"{step.where}.config",
                step=name,
                upstream=ancestors.get(name),
                input_schema=schema,
                input_owner=(
                    f"step {name!r}'s input schema"
                    if step.tool_only
                    else "the workflow's input_schema"
                ),
            )
        output = self.document.get("output", {})
        if isinstance(output, dict):
            flow = {n for n in self.order if not self.steps[n].tool_only}
            self.check_refs(
                output,
                where="output",
                step=None,
                upstream=flow,
                input_schema=self.workflow_input_schema,
                input_owner="the workflow's input_schema",
            )

    def check_refs(
        self,
        value: Any,
        *,
        where: str,
        step: str | None,
        upstream: set[str] | None,
        input_schema: Any,
        input_owner: str,
    ) -> None:
        refs, errors = template_scan(value, where=where)
        who = f"step {step!r}" if step else "the workflow's output"
        for error in errors:
            self.add("UNRESOLVED_REF", f"{who}: {error.message}", step=step, path=error.path)
        properties = input_schema.get("properties") if isinstance(input_schema, dict) else None
        for ref in refs:
            if ref.root == "steps":
                target = ref.step
                assert target is not None
                if target not in self.steps:
                    self.add(
                        "UNKNOWN_STEP",
                        f"{who}: {ref.text} names step {target!r}, which does not exist",
                        step=step,
                        path=ref.where,
                    )
                elif upstream is not None and self.graph_trusted and target not in upstream:
                    reason = (
                        "a tool_only step's output goes back to its agent only"
                        if self.steps[target].tool_only
                        else "it is not upstream, so it has not run when this one does"
                    )
                    if step is not None and target == step:
                        reason = "a step cannot read its own output"
                    self.add(
                        "UNRESOLVED_REF",
                        f"{who}: {ref.text} reads step {target!r}, but {reason}",
                        step=step,
                        path=ref.where,
                    )
            elif ref.root == "input" and ref.segments and isinstance(properties, dict):
                key = ref.segments[0]
                if key not in properties:
                    self.add(
                        "UNRESOLVED_REF",
                        f"{who}: {ref.text} reads input {key!r}, which {input_owner} does not "
                        f"declare (it declares: {', '.join(map(str, properties)) or 'nothing'})",
                        step=step,
                        path=ref.where,
                    )
            elif ref.root == "ctx" and step is None and ref.segments[0] in NOT_IN_OUTPUT_CTX_KEYS:
                self.add(
                    "UNRESOLVED_REF",
                    f"{who}: {ref.text} belongs to a running step; the output mapping "
                    f"may read ctx but {', '.join(NOT_IN_OUTPUT_CTX_KEYS)}",
                    step=step,
                    path=ref.where,
                )
            elif ref.root == "ctx" and ref.segments[0] in SYSTEM_CTX_KEYS and not self.is_system:
                self.add(
                    "UNRESOLVED_REF",
                    f"{who}: {ref.text} is only for system workflows (is_system true); "
                    "a user workflow cannot reach the internal API",
                    step=step,
                    path=ref.where,
                )
