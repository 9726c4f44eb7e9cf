"""Workflows of generic blocks (Workflow, Step, Edge, Run, StepRun) live here."""
