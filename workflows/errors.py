"""The errors workflow services raise for bad input: every problem at once."""

from __future__ import annotations

from typing import TypedDict


class Problem(TypedDict):
    """One thing wrong with a document or an input (the API's 400 lists them all)."""

    code: str
    message: str
    step: str | None
    path: str


class WorkflowInvalid(ValueError):
    """A workflow document has problems; nothing was saved."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p["message"] for p in problems) or "invalid workflow")


class RunInputInvalid(ValueError):
    """A run's input does not satisfy the workflow's input schema; nothing was queued."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(p["message"] for p in problems) or "invalid input")


class WorkflowStateError(ValueError):
    """The transition asked for is not allowed from the current state."""


def problem(code: str, message: str, *, step: str | None = None, path: str = "") -> Problem:
    return Problem(code=code, message=message, step=step, path=path)


__all__ = [
    "Problem",
    "RunInputInvalid",
    "WorkflowInvalid",
    "WorkflowStateError",
    "problem",
]
