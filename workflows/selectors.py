"""Reads of workflow definitions: the document a version is, and what is wrong with one.

The document (steps by name, edges by step names) is the one shape the API, the
import/export command, the admin and the validator share; rows store steps by id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from django.contrib.contenttypes.models import ContentType
from django.db.models import QuerySet

import workflows.blocks  # noqa: F401  (importing the package registers every block)
from decisions.models import Decision
from workflows.errors import Problem
from workflows.graph import SubflowTarget, graph_validate
from workflows.models import Step, Workflow

# Run reads live in ``selectors_runs``; re-exported so callers have one place to look.
from workflows.selectors_runs import run_detail, run_wait, run_waiting_decisions  # noqa: F401

#: Step fields as they appear in a document, in the order a document lists them.
STEP_FIELDS = (
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
)

#: The http block's url pointing at the internal API of system workflows: not an
#: outside integration (its host is ours), so it never counts as a new one.
INTERNAL_URL_PREFIXES = ("{{ctx.internal_base_url}}",)


def step_document(step: Step) -> dict[str, Any]:
    """One step as a document lists it."""
    return {field: getattr(step, field) for field in STEP_FIELDS}


def workflow_document(*, workflow: Workflow) -> dict[str, Any]:
    """The workflow version as a document (re-importable: ``workflow import`` takes it)."""
    steps = list(workflow.steps.all().order_by("position", "id"))
    names = {step.pk: step.name for step in steps}
    edges = workflow.edges.all().order_by("id")
    return {
        "name": workflow.name,
        "description": workflow.description,
        "key": workflow.key,
        "input_schema": workflow.input_schema,
        "output": workflow.output,
        "is_system": workflow.is_system,
        "timeout_seconds": workflow.timeout_seconds,
        "steps": [step_document(step) for step in steps],
        "edges": [
            {"from": names[edge.source_id], "port": edge.port, "to": names[edge.target_id]}
            for edge in edges
        ],
    }


def subflow_target(ref: str | int) -> SubflowTarget | None:
    """The workflow a subflow step names (by id, or by key: its published version)."""
    workflow: Workflow | None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        workflow = Workflow.objects.filter(pk=int(ref)).first()
    else:
        versions = Workflow.objects.filter(key=ref)
        workflow = (
            versions.filter(status=Workflow.Status.PUBLISHED).first()
            or versions.order_by("-version").first()
        )
    if workflow is None:
        return None
    return SubflowTarget(
        ref=ref,
        workflow_id=workflow.pk,
        input_schema=workflow.input_schema,
        output=workflow.output,
        published=workflow.status == Workflow.Status.PUBLISHED,
        key=workflow.key,
    )


def document_problems(*, document: Any) -> list[Problem]:
    """Every problem of ``document`` (the one validator, with subflows looked up here)."""
    return graph_validate(document, subflow_lookup=subflow_target)


def url_host(url: Any) -> str | None:
    """The host an http step's ``url`` reaches; ``None`` when it is not fixed.

    A url whose host is (or comes from) a template, such as ``{{ input.url }}`` or
    ``https://{{ vars.host }}/x``, can reach any host: callers count it as a new
    integration every time, since no person approved where it goes.
    """
    if not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if "{{" in parts.scheme or "{{" in parts.netloc or not parts.netloc:
        return None
    return (parts.hostname or "").lower() or None


def url_is_internal(url: Any) -> bool:
    """The internal API of system workflows (``{{ ctx.internal_base_url }}/…``)."""
    return isinstance(url, str) and url.replace(" ", "").startswith(INTERNAL_URL_PREFIXES)


def document_hosts(*, document: dict[str, Any]) -> tuple[set[str], list[str]]:
    """The fixed hosts a document's http steps reach, and the urls with a variable host."""
    hosts: set[str] = set()
    variable: list[str] = []
    for step in document.get("steps") or []:
        if step.get("block") != "http":
            continue
        url = (step.get("config") or {}).get("url")
        if url_is_internal(url):
            continue
        host = url_host(url)
        if host is None:
            variable.append(f"{step.get('name')}: {url}")
        else:
            hosts.add(host)
    return hosts, variable


def hosts_published() -> set[str]:
    """Every host an http step of a version that was ever published reaches."""
    hosts: set[str] = set()
    steps = Step.objects.filter(block="http", workflow__published_at__isnull=False)
    for config in steps.values_list("config", flat=True):
        host = url_host((config or {}).get("url"))
        if host is not None:
            hosts.add(host)
    return hosts


def key_was_published(*, key: str) -> bool:
    return Workflow.objects.filter(key=key, published_at__isnull=False).exists()


def document_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON: what a publish decision approved."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def publish_decisions(*, workflow: Workflow) -> QuerySet[Decision]:
    """The decisions asked about publishing this version, newest first."""
    return Decision.objects.filter(
        action="workflows.workflow_publish",
        subject_type=ContentType.objects.get_for_model(Workflow),
        subject_id=str(workflow.pk),
    ).order_by("-requested_at", "-pk")


def publish_decision_pending(*, workflow: Workflow) -> Decision | None:
    """The decision on publishing this version still waiting for a person, if any."""
    return publish_decisions(workflow=workflow).filter(status=Decision.Status.PENDING).first()
