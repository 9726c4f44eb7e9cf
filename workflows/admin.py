"""The workflows admin, one module per area, each registering on import."""

from workflows import admin_rag, admin_runs, admin_tokens, admin_workflows  # noqa: F401
