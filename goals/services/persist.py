"""Shared by the role persisters (``goals.roles.<role>.persist``).

Each persister runs inside the iteration's transaction (``goals.services.record``) and
returns a small summary that is stored on the Iteration. Ideas go through
``ideas.services``, which dedupes by fingerprint and refuses taboo or illegal content;
tasks go through ``task_create``, which dedupes open work by key.
"""

from __future__ import annotations

from collections.abc import Sequence

from ideas.models import Idea, Theme

#: Priorities of the follow-up work the loop queues by itself (the planner uses 1–100).
PRIORITY_CRITIQUE_NEW = 60
PRIORITY_REFINE = 55
PRIORITY_SHAKE_UP = 90
PRIORITY_SNAPSHOT = 100
PRIORITY_META_REVIEW = 95
PRIORITY_FALLBACK_GENERATE = 40


def ideas_visible(theme: Theme, ids: Sequence[int]) -> list[Idea]:
    """The visible ideas of ``theme`` among ``ids``, in the given order, deduplicated."""
    if not ids:
        return []
    found = {
        idea.pk: idea
        for idea in Idea.objects.filter(
            theme=theme, pk__in=list(ids), status__in=Idea.VISIBLE_STATUSES
        )
    }
    return [found[i] for i in dict.fromkeys(ids) if i in found]
