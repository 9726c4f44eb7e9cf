"""Workflow services: the only writers of workflow rows (one module per action cluster)."""
