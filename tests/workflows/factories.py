"""Factories for workflow tests: documents (what services take) and rows (what they make).

Documents use the real block slugs (``set-variables``, ``http``), so they pass the one
validator exactly as an operator's would.
"""

from __future__ import annotations

import copy
from typing import Any

import factory
from factory.django import DjangoModelFactory

from workflows.models import Edge, Run, Step, Workflow


def set_step(
    name: str, value: Any = "1", *, after: str | None = None, **fields: Any
) -> dict[str, Any]:
    """A set-variables step that sets ``name`` (a string variable).

    ``after``: for ``step_add``, the edge from that step into this one (added with it).
    """
    step = {
        "name": name,
        "block": "set-variables",
        "config": {"variables": [{"name": name, "value": value, "type": "string"}]},
        **fields,
    }
    if after is not None:
        step["edges"] = [{"from": after, "port": "out", "to": name}]
    return step


def http_step(name: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "block": "http", "config": {"method": "GET", "url": url}, **fields}


def document(
    name: str = "Support bot",
    *,
    steps: list[dict[str, Any]] | None = None,
    edges: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A valid document: by default two set-variables steps in a line (greet → reply)."""
    if steps is None:
        steps = [set_step("greet"), set_step("reply")]
        edges = [{"from": "greet", "port": "out", "to": "reply"}] if edges is None else edges
    return {
        "name": name,
        "description": "Answers customers.",
        "input_schema": {"type": "object", "properties": {"question": {"type": "string"}}},
        "output": {"answer": "{{ vars.reply }}"},
        "steps": copy.deepcopy(steps),
        "edges": copy.deepcopy(edges or []),
        **fields,
    }


class WorkflowFactory(DjangoModelFactory):
    class Meta:
        model = Workflow

    key = factory.Sequence(lambda n: f"workflow-{n}")
    version = 1
    name = factory.Sequence(lambda n: f"Workflow {n}")
    status = Workflow.Status.DRAFT


class StepFactory(DjangoModelFactory):
    class Meta:
        model = Step

    workflow = factory.SubFactory(WorkflowFactory)
    name = factory.Sequence(lambda n: f"step_{n}")
    block = "set-variables"
    config = factory.LazyAttribute(
        lambda o: {"variables": [{"name": o.name, "value": "1", "type": "string"}]}
    )


class EdgeFactory(DjangoModelFactory):
    class Meta:
        model = Edge

    workflow = factory.SubFactory(WorkflowFactory)
    source = factory.SubFactory(StepFactory, workflow=factory.SelfAttribute("..workflow"))
    target = factory.SubFactory(StepFactory, workflow=factory.SelfAttribute("..workflow"))
    port = "out"


class RunFactory(DjangoModelFactory):
    """A run row as the engine leaves it (for what refuses to touch workflows with runs)."""

    class Meta:
        model = Run

    workflow = factory.SubFactory(WorkflowFactory)
    status = Run.Status.SUCCEEDED
    input = factory.LazyFunction(dict)


def approver() -> Any:
    """dora, who may approve decisions (the workflows personas may not)."""
    from django.contrib.auth.models import User

    from tests.personas import person_create

    existing = User.objects.filter(username="dora").first()
    return existing or person_create("dora", permissions=["decisions.approve_decision"])


def workflow_published(doc: dict[str, Any] | None = None) -> Workflow:
    """A workflow created and published through the services (its decision approved)."""
    from decisions.models import Decision
    from decisions.services import decision_apply, decision_approve
    from workflows.selectors import publish_decision_pending
    from workflows.services.definitions import workflow_create, workflow_publish

    workflow = workflow_create(document=doc or document(), actor=None)
    workflow = workflow_publish(workflow_id=workflow.pk, actor=None)
    pending = publish_decision_pending(workflow=workflow)
    if pending is not None:
        decision_approve(decision_id=pending.pk, user=approver())
        applied = decision_apply(decision_id=pending.pk)
        assert applied.status == Decision.Status.APPLIED, applied.outcome
    workflow.refresh_from_db()
    assert workflow.status == Workflow.Status.PUBLISHED
    return workflow


def blocks_stand_in() -> Any:
    """Register stand-ins for ``set-variables`` and ``http`` while the real blocks are
    missing from the catalogue (they are built on other branches), and remove them after.

    A generator for an autouse fixture: ``yield from blocks_stand_in()``. Once the real
    blocks are registered it registers nothing, and the tests run against them.
    """
    import workflows.blocks  # noqa: F401  (registers the real blocks)
    from workflows.blocks.base import _REGISTRY, Block, block_get

    class SetVariables(Block):
        slug = "set-variables"
        name = "Set variables"
        category = "data"
        description = "stand-in"
        config_schema = {"type": "object", "required": ["variables"]}

    class Http(Block):
        slug = "http"
        name = "HTTP request"
        category = "integration"
        description = "stand-in"
        config_schema = {"type": "object", "required": ["url"]}
        side_effects = True

    added = []
    for block in (SetVariables, Http):
        if block_get(block.slug) is None:
            _REGISTRY.blocks[block.slug] = block()
            added.append(block.slug)
    yield
    for slug in added:
        _REGISTRY.blocks.pop(slug, None)
