"""Workflow services: the only writers of workflow rows (one module per concern)."""
