"""Cost of ``manage.py copilot_docs``, which ``make run`` runs at every start.

Prints, on a throwaway SQLite database:

- the first rebuild (every document segmented by janome and indexed): milliseconds,
  documents, SQL statements;
- a rebuild with nothing changed (the case at every start): median milliseconds and
  SQL statements; it reads the stored checksums once and segments nothing;
- a rebuild after one document changed: only that one is replaced.

    .venv/bin/python benchmarks/copilot_docs.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import time

import harness  # first: sets Django up on a throwaway SQLite database

from workflows.docs import docs_collect
from workflows.services.docs import copilot_docs_rebuild


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    documents = docs_collect()
    with harness.queries_counted() as seen:
        started = time.perf_counter()
        report = copilot_docs_rebuild(actor=None)
        first_ms = (time.perf_counter() - started) * 1000
    print(
        f"first rebuild:   {first_ms:8.1f} ms  {len(report.added)} documents added, "
        f"{len(seen)} SQL statements"
    )

    # Collecting (README, registry, example files) is measured too: the command does it.
    with harness.queries_counted() as seen:
        copilot_docs_rebuild(actor=None)
    unchanged_ms, report = harness.ms(lambda: copilot_docs_rebuild(actor=None), repeat=args.repeat)
    print(
        f"nothing changed: {unchanged_ms:8.1f} ms  {len(report.unchanged)} unchanged "
        f"(median of {args.repeat}), {len(seen)} SQL statements"
    )

    changed = [
        *documents[:-1],
        type(documents[-1])(
            source=documents[-1].source, title=documents[-1].title, text=documents[-1].text + "\nx"
        ),
    ]
    with harness.queries_counted() as seen:
        started = time.perf_counter()
        report = copilot_docs_rebuild(actor=None, documents=changed)
        one_ms = (time.perf_counter() - started) * 1000
    print(
        f"one changed:     {one_ms:8.1f} ms  {len(report.replaced)} replaced, "
        f"{len(seen)} SQL statements"
    )


if __name__ == "__main__":
    main()
