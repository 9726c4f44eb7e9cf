"""What every benchmark needs first: Django on a throwaway SQLite file, migrated.

Import this module before anything from the project: it points ``BIZAGENT_VAR_DIR`` and
``DATABASE_URL`` at a fresh temporary directory, sets up Django and migrates. A
``DATABASE_URL`` already in the environment is ignored on purpose (the benchmarks fill
100,000 rows); ``BIZAGENT_BENCH_DATABASE_URL`` names a throwaway database to use instead,
e.g. the PostgreSQL that tests/pg.sh starts.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
VAR_DIR = tempfile.mkdtemp(prefix="bizagent-bench-")
os.environ["BIZAGENT_VAR_DIR"] = VAR_DIR
os.environ["DATABASE_URL"] = os.environ.get(
    "BIZAGENT_BENCH_DATABASE_URL", f"sqlite:///{VAR_DIR}/bench.sqlite3"
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bizagent.settings_test")
os.environ.setdefault("BIZAGENT_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

call_command("migrate", verbosity=0)
call_command("createcachetable", verbosity=0)


@contextmanager
def queries_counted() -> Iterator[list[str]]:
    """The SQL of every statement sent inside the block (DEBUG need not be on)."""
    seen: list[str] = []

    def record(execute, sql, params, many, context):
        seen.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        yield seen


def ms(function: Callable[[], object], *, repeat: int = 5) -> tuple[float, object]:
    """Median milliseconds of ``function()`` over ``repeat`` runs, and its last result."""
    timings, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return timings[len(timings) // 2], result
