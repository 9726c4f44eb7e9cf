"""Reads of workflow rows (selectors); run reads live in ``selectors_runs``."""

from workflows.selectors_runs import run_detail, run_wait

__all__ = ["run_detail", "run_wait"]
