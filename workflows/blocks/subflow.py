"""``subflow``: run another published workflow with mapped inputs; its output in full.

The engine's ``ctx.run_subflow`` starts the child run (published versions only, depth
bounded) and returns its declared output or raises a block error; this block only maps
the config to that call. ``subflow_ref`` lets the validator check the target and its
input schema at save time.
"""

from __future__ import annotations

from typing import Any

from workflows.blocks.base import Block, BlockConfigError, BlockContext, BlockResult, block_register


@block_register
class Subflow(Block):
    slug = "subflow"
    name = "Subflow"
    category = "flow"
    description = (
        "Runs another published workflow with inputs mapped from this run and returns "
        "that workflow's output."
    )
    config_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["workflow"],
        "properties": {
            "workflow": {
                "type": ["string", "integer"],
                "minLength": 1,
                "minimum": 1,
                "description": "The workflow to run: its key (runs the published version) or id.",
            },
            "input": {
                "type": "object",
                "default": {},
                "description": (
                    "The child run's input, checked against its input schema; values may "
                    "be templates such as {{ input.email }}."
                ),
            },
        },
    }
    input_schema = {
        "type": "object",
        "description": (
            "An agent's arguments when it calls this step as a tool, mapped to the child's input "
            "in the config as {{ input.<name> }}."
        ),
    }
    output_schema = {"description": "The child workflow's declared output, in full."}
    # The child may send mail, call APIs or write memory: retry it only when idempotent.
    side_effects = True
    can_be_tool = True

    def subflow_ref(self, config: dict[str, Any]) -> str | int | None:
        workflow = config.get("workflow")
        if isinstance(workflow, bool) or not isinstance(workflow, str | int):
            return None
        return workflow if workflow != "" else None

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        workflow = self.subflow_ref(config)
        if workflow is None:
            raise BlockConfigError(
                f"workflow must be a workflow key or id, not {config.get('workflow')!r}"
            )
        child_input = config.get("input", {})
        if not isinstance(child_input, dict):
            raise BlockConfigError(
                f"input must be an object mapping the child's inputs, not "
                f"{type(child_input).__name__}"
            )
        return BlockResult(output=ctx.run_subflow(workflow, child_input))
