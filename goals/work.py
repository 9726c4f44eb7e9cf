"""``Work``: what one iteration does, decided before any model call.

Its own module, below both ``goals.services`` (which picks it) and ``goals.roles`` (which
read it to build a prompt and persist an answer), so neither imports the other for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from goals.models import Task
from ideas.models import Idea, Theme

#: The portfolio block of the prompts (``ideas.context.portfolio_block_get``) is rebuilt
#: once every this many iterations and reused byte for byte in between, so the server's
#: prefix cache holds it; the task's own ideas still come with their current scores.
CONTEXT_EPOCH_ITERATIONS = 10


def context_epoch(number: int) -> int:
    """The portfolio epoch of iteration ``number`` (1-based): ten iterations each.

    Derived from the iteration number alone, so every worker of every process agrees on
    it without asking anyone, and with it on the cached block it names.
    """
    return max(number - 1, 0) // CONTEXT_EPOCH_ITERATIONS


def epoch_start(number: int) -> int:
    """The number of the first iteration of iteration ``number``'s context epoch: the
    anchor of the lists a prompt lets grow within an epoch (``recent_work(since=)``)."""
    return context_epoch(number) * CONTEXT_EPOCH_ITERATIONS + 1


@dataclass
class Work:
    """What this iteration does: decided before any model call, and read (never used to
    pass data) by the later steps."""

    theme: Theme
    worker: str
    number: int
    kind: str
    role: str
    mode: str
    task: Task | None = None
    focus_ideas: list[Idea] = field(default_factory=list)
    explore_ratio: float = 0.5
    focus: str = ""
    #: What a meta review judges, computed once here for its prompt and its persister.
    meta_stats: dict[str, Any] | None = None
    #: The portfolio's statistics (``ideas.selectors.portfolio_stats``), when the kind
    #: reads them: computed once, for the meta review's statistics and the prompt alike.
    portfolio_stats: dict[str, Any] | None = None
