"""Fixtures shared by the workflow engine's tests."""
