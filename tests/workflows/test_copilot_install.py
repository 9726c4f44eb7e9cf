"""``copilot_install``: the shipped document becomes the published system workflow, once.

Created and published by the system (audited, no ``new_workflow`` decision: it ships
with the code), idempotent, and upgraded to a new version when the shipped document
changes. The document itself is made only of the registry's generic blocks.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from decisions.models import AuditEvent, Decision
from workflows.blocks import blocks_all
from workflows.copilot import COPILOT_KEY, DOCS_COLLECTION
from workflows.models import Workflow
from workflows.services import copilot as copilot_service
from workflows.services.copilot import copilot_document, copilot_install

pytestmark = pytest.mark.django_db

TOOLS = {
    "list_blocks",
    "get_block_schema",
    "search_blocks",
    "list_workflows",
    "get_workflow",
    "get_workflow_runs",
    "create_step",
    "update_step",
    "delete_step",
    "create_edge",
    "delete_edge",
    "validate_workflow",
    "search_documentation",
    "diagnose_workflow",
}


def test_the_shipped_document_is_the_issue_s_shape_of_generic_blocks():
    document = copilot_document()
    steps = {s["name"]: s for s in document["steps"]}
    graph = [s["block"] for s in document["steps"] if not s.get("tool_only")]
    assert graph == ["set-variables", "memory-buffer", "agent", "memory-buffer"]
    assert document["is_system"] is True
    assert set(steps["answer"]["config"]["tools"]) == TOOLS
    assert all(steps[t].get("tool_only") for t in TOOLS)
    assert set(blocks_all()) >= {s["block"] for s in document["steps"]}
    for name in TOOLS - {"search_documentation", "diagnose_workflow"}:
        config = steps[name]["config"]
        assert steps[name]["block"] == "http"
        assert config["url"].startswith("{{ ctx.internal_base_url }}/api/v1/")
        assert config["headers"]["Authorization"] == "Bearer {{ ctx.internal_api_token }}"
    assert steps["search_documentation"]["config"]["collection"] == DOCS_COLLECTION
    assert steps["diagnose_workflow"]["block"] == "llm-structured"
    assert set(steps["diagnose_workflow"]["config"]["schema"]["required"]) == {
        "cause",
        "failing_step",
        "suggested_edit",
    }
    instructions = steps["answer"]["config"]["instructions"]
    for rule in ("validate_workflow", "never claim", "drafts only", "cannot publish"):
        assert rule in instructions


def test_install_publishes_it_as_the_system_once(alice):
    installed = copilot_install()

    assert (installed.key, installed.version, installed.status) == (COPILOT_KEY, 1, "published")
    assert installed.is_system
    assert not Decision.objects.exists()  # shipped code, not a person's new workflow
    published = AuditEvent.objects.get(action="workflows.workflow_published")
    assert published.data["rule"] == "system_install" and published.actor is None
    assert AuditEvent.objects.filter(action="workflows.workflow_created").count() == 1

    again = copilot_install()

    assert again.pk == installed.pk
    assert Workflow.objects.filter(key=COPILOT_KEY).count() == 1
    assert AuditEvent.objects.filter(action="workflows.workflow_published").count() == 1


def test_a_changed_shipped_document_is_installed_as_the_next_version(tmp_path: Path, monkeypatch):
    first = copilot_install()
    changed = copilot_document()
    changed["description"] = "A newer copilot."
    path = tmp_path / "copilot.json"
    path.write_text(json.dumps(changed), encoding="utf-8")
    monkeypatch.setattr(copilot_service, "DOCUMENT_PATH", path)

    second = copilot_install()

    assert (second.version, second.status, second.description) == (
        2,
        "published",
        "A newer copilot.",
    )
    first.refresh_from_db()
    assert first.status == "retired"
    assert copilot_install().pk == second.pk
