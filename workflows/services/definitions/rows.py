"""Documents to rows: a document validated whole (key included), then written as the
workflow's own row and its step and edge rows.
"""

from __future__ import annotations

import copy
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db.models import ProtectedError
from django.utils.text import slugify

from workflows.errors import Problem, WorkflowInvalid, WorkflowStateError, problem
from workflows.graph import document_normalise
from workflows.models import Edge, Step, Workflow
from workflows.selectors import document_problems

KEY_MAX = 80


# -- documents to rows ------------------------------------------------------------------


def _key_problems(document: Any, *, current: str | None) -> list[Problem]:
    if not isinstance(document, dict) or document.get("key") in (None, ""):
        return []
    key = document["key"]
    if current is not None:
        if key != current:
            return [
                problem(
                    "KEY_MISMATCH",
                    f"the key of a workflow never changes (it is {current!r}): "
                    f"leave it out or give {current!r}",
                    path="key",
                )
            ]
        return []
    try:
        if not isinstance(key, str) or len(key) > KEY_MAX:
            raise ValidationError("bad key")
        validate_slug(key)
    except ValidationError:
        return [
            problem(
                "BAD_KEY",
                f"key must be letters, digits, '-' or '_' (at most {KEY_MAX}), not {key!r}",
                path="key",
            )
        ]
    if Workflow.objects.filter(key=key).exists():
        return [
            problem(
                "KEY_TAKEN",
                f"a workflow with key {key!r} exists already: update it, or give another key",
                path="key",
            )
        ]
    return []


def _validated(document: Any, *, current_key: str | None) -> dict[str, Any]:
    """The document with its defaults filled, or ``WorkflowInvalid`` with every problem."""
    if current_key is not None and isinstance(document, dict) and not document.get("key"):
        # The validator tells a subflow to itself by the key; a draft's key is fixed.
        document = {**document, "key": current_key}
    problems = _key_problems(document, current=current_key) + document_problems(document=document)
    if problems:
        raise WorkflowInvalid(problems)
    return document_normalise(copy.deepcopy(document))


def _key_new(name: str) -> str:
    base = slugify(name)[: KEY_MAX - 4].strip("-") or "workflow"
    key, n = base, 1
    while Workflow.objects.filter(key=key).exists():
        n += 1
        key = f"{base}-{n}"
    return key


def _rows_write(
    workflow: Workflow, document: dict[str, Any], *, renames: dict[str, str] | None = None
) -> None:
    """Make ``workflow``'s rows say what the (valid, normalised) document says.

    Steps are matched by name (``renames`` maps old names to new) and edges by their
    step ids, so unchanged steps and edges keep their ids: an edge id an API client
    holds, and the steps a test run of this draft points at, stay valid.
    """
    workflow.name = document["name"]
    workflow.description = document.get("description") or ""
    workflow.input_schema = document.get("input_schema") or {}
    workflow.output = document.get("output") or {}
    workflow.is_system = bool(document.get("is_system"))
    workflow.timeout_seconds = document.get("timeout_seconds") or workflow.timeout_seconds
    _clean(workflow, exclude=["key"])
    workflow.save()

    existing = {step.name: step for step in workflow.steps.all()}
    for old, new in (renames or {}).items():
        if old in existing:
            existing[new] = existing.pop(old)
    wanted = [step["name"] for step in document["steps"]]
    for name, step in list(existing.items()):
        if name not in wanted:
            try:
                step.delete()
            except ProtectedError:
                raise WorkflowStateError(
                    f"step {name!r} of {workflow} has runs (test runs of this draft) and "
                    "cannot be removed: edit a new version instead"
                ) from None
            del existing[name]
    ids: dict[str, int] = {}
    for position, data in enumerate(document["steps"]):
        step = existing.get(data["name"]) or Step(workflow=workflow)
        for field in (
            "name",
            "block",
            "description",
            "config",
            "input_schema",
            "retry",
            "on_error",
            "default_output",
            "timeout_seconds",
            "tool_only",
            "idempotent",
        ):
            if field in data:
                setattr(step, field, data[field] if data[field] is not None else _null(field))
        step.description = step.description or ""
        step.position = position
        _clean(step, exclude=["workflow"], step=data["name"])
        step.save()
        ids[step.name] = step.pk

    wanted_edges = {
        (ids[e["from"]], e.get("port") or "out", ids[e["to"]]) for e in document["edges"]
    }
    for edge in workflow.edges.all():
        if (edge.source_id, edge.port, edge.target_id) not in wanted_edges:
            edge.delete()
        else:
            wanted_edges.discard((edge.source_id, edge.port, edge.target_id))
    Edge.objects.bulk_create(
        Edge(workflow=workflow, source_id=source, port=port, target_id=target)
        for source, port, target in sorted(wanted_edges)
    )


def _null(field: str) -> Any:
    """What a ``null`` in a document means for a column that is not nullable."""
    return {"config": {}, "retry": {}, "description": ""}.get(field)


def _clean(row: Workflow | Step, *, exclude: list[str], step: str | None = None) -> None:
    # The validator checked the document; this catches what only the columns know
    # (lengths, choices) as problems rather than a database error.
    try:
        row.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise WorkflowInvalid(
            [
                problem("TYPE", f"{field}: {' '.join(messages)}", step=step, path=field)
                for field, messages in exc.message_dict.items()
            ]
        ) from None
