"""The cyclic garbage collector, tuned for long-running Django processes.

Python's defaults (a young collection every 700 net allocations, a full one when enough
objects survived) suit short scripts. A bizagent process imports Django, the apps and
the model client's libraries (~250,000 tracked objects) and then runs for days. Measured
on the agent loop (1,000 ideas, zero-latency model, 500 iterations):

* a full collection walks every object imported at start: ~200 ms each, ~0.4 ms an
  iteration on average, and a 200 ms stall in whichever iteration or request it hits;
* young collections ran ~0.2 times an iteration and cost ~0.3 ms an iteration.

``collector_tune`` moves everything alive at start into the permanent generation
(``gc.freeze``: never scanned again, never freed, which is what modules and classes are
anyway) and collects the young generation every ``YOUNG_THRESHOLD`` allocations: GC
time 0.75 -> 0.03-0.1 ms an iteration. Cyclic garbage lives a little longer (at most
that many objects, a few megabytes). Forked children (gunicorn and django-q2 workers)
inherit both settings.
"""

from __future__ import annotations

import gc

#: Net allocations of tracked objects between two young collections (Python: 700).
YOUNG_THRESHOLD = 20_000


def collector_tune() -> None:
    """Freeze what the process holds now and space out young collections (idempotent:
    a later call freezes what was added since, the thresholds stay)."""
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    gc.freeze()
