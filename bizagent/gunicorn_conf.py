"""gunicorn settings that ``serve`` loads with ``--config python:bizagent.gunicorn_conf``.

Only hooks live here; the command line in ``serve`` holds the settings.
"""

from __future__ import annotations

import signal
from typing import Protocol

from bizagent.process_lifetime import die_with_parent


class _Arbiter(Protocol):
    """What the hook reads of gunicorn's (untyped) arbiter."""

    pid: int


def post_fork(server: _Arbiter, worker: object) -> None:
    """A web worker dies with its master, so a killed ``serve`` leaves no worker on the port."""
    die_with_parent(signum=signal.SIGKILL, parent_pid=server.pid)
