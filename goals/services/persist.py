"""Shared by the role persisters (``goals.roles.<role>.persist``).

Each persister runs inside the iteration's transaction (``goals.services.record``) and
returns a small summary that is stored on the Iteration. Ideas go through
``ideas.services``, which dedupes by fingerprint and refuses taboo or illegal content;
tasks go through ``task_create``, which dedupes open work by key.
"""

from __future__ import annotations

#: Priorities of the follow-up work the loop queues by itself (the planner uses 1–100).
PRIORITY_CRITIQUE_NEW = 60
PRIORITY_REFINE = 55
PRIORITY_SHAKE_UP = 90
PRIORITY_SNAPSHOT = 100
PRIORITY_META_REVIEW = 95
PRIORITY_FALLBACK_GENERATE = 40
