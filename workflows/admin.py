"""Workflows admin: one module per area, registered on import."""

from workflows import admin_runs  # noqa: F401 - registers the runs admin
