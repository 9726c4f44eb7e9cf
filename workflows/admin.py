"""The workflows admin, one module per part (definitions here; run state by the engine)."""

from workflows import admin_workflows  # noqa: F401  (registers the Workflow admin)
