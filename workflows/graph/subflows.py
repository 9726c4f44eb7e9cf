"""Layer 6, the subflow targets: each exists, is published, is not this one, fits its input."""

from __future__ import annotations

from workflows.graph.base import _State
from workflows.graph.document import document_key


class _SubflowChecks(_State):
    """The workflows subflow steps run, asked of ``subflow_lookup`` (skipped without one)."""

    # ---- layer 6: subflows

    def check_subflows(self) -> None:
        if self.subflow_lookup is None:
            return
        own_key = document_key(self.document)
        for name in self.order:
            step = self.steps[name]
            if step.block is None or not step.config_ok:
                continue
            ref = step.block.subflow_ref(step.config)
            if ref is None:
                continue
            where = f"{step.where}.config"
            target = self.subflow_lookup(ref)
            if target is None:
                self.add(
                    "SUBFLOW",
                    f"step {name!r} runs workflow {ref!r}, which does not exist",
                    step=name,
                    path=where,
                )
                continue
            if own_key and (ref == own_key or target.key == own_key):
                self.add(
                    "SUBFLOW",
                    f"step {name!r} runs workflow {ref!r}, which is this workflow: "
                    "a workflow cannot run itself",
                    step=name,
                    path=where,
                )
                continue
            if not target.published:
                self.add(
                    "SUBFLOW",
                    f"step {name!r} runs workflow {ref!r}, which is not published: subflows run "
                    "published versions only",
                    step=name,
                    path=where,
                )
            mapped = step.config.get("input", {})
            schema = target.input_schema if isinstance(target.input_schema, dict) else {}
            properties = schema.get("properties")
            if not isinstance(mapped, dict):
                continue
            if isinstance(properties, dict):
                for key in mapped:
                    if key not in properties:
                        self.add(
                            "SUBFLOW",
                            f"step {name!r} passes input {key!r} to workflow {ref!r}, whose "
                            f"input_schema does not declare it (it declares: "
                            f"{', '.join(map(str, properties)) or 'nothing'})",
                            step=name,
                            path=f"{where}.input.{key}",
                        )
            required = schema.get("required")
            if isinstance(required, list):
                missing = [key for key in required if key not in mapped]
                if missing:
                    self.add(
                        "SUBFLOW",
                        f"step {name!r} does not pass {', '.join(map(repr, missing))}, which "
                        f"workflow {ref!r} requires",
                        step=name,
                        path=f"{where}.input",
                    )
