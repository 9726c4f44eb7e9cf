"""The workflows admin: one module per concern, each imported here to register."""

from workflows import admin_tokens  # noqa: F401  (registers ApiToken)
