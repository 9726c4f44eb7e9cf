"""Run code in several threads released at the same instant, each on its own
database connection, to test races on a real database (SQLite, and PostgreSQL with
``-m postgres``). Use it in ``transaction=True`` tests so the threads see the rows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection


def run_together(worker: Callable[[int], Any], n: int) -> tuple[list[Any], list[BaseException]]:
    """Call ``worker(i)`` for i in range(n) at once; returns (results, errors)."""
    barrier = threading.Barrier(n)
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=10)
            results.append(worker(index))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    close_old_connections()
    return results, errors
