"""One ``serve`` per SQLite database on this machine.

Two ``serve`` runs on the same SQLite file would each start a cluster and a web server
fighting over one database file. An advisory ``flock`` on a lock file next to the
database, held for serve's lifetime, refuses the second one; the kernel drops the lock
when its holder dies, however it dies, so a SIGKILLed ``serve`` never blocks the next.
PostgreSQL is meant to be shared by several machines, so it takes no lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from django.core.management.base import CommandError


def serve_lock_path(*, database: Mapping[str, Any]) -> Path | None:
    """Where the lock of ``database`` lives, or None when it takes none."""
    if database.get("ENGINE") != "django.db.backends.sqlite3":
        return None
    name = str(database.get("NAME", ""))
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    return Path(name).with_name(Path(name).name + ".serve.lock")


def serve_lock_acquire(*, database: Mapping[str, Any]) -> IO[str] | None:
    """Take the serve lock of ``database`` for as long as the returned file stays open.

    Raises CommandError naming the holder's pid when another serve holds it. Returns None
    for databases that take no lock (PostgreSQL).
    """
    path = serve_lock_path(database=database)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    # Opened without truncating: the holder's pid must stay readable to a refused serve.
    # The descriptor is not inheritable, so no child keeps the lock alive after serve dies.
    handle = open(path, "a+")  # noqa: SIM115 (held open for serve's lifetime)
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise CommandError(
            f"another bizagent serve (pid {holder}) is already running on this database"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle
