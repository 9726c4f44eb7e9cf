"""Workflows admin: one module per concern, each registering its models on import."""

from workflows import admin_rag  # noqa: F401  (document collections)
