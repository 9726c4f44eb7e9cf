"""gunicorn settings that ``serve`` loads with ``--config python:bizagent.gunicorn_conf``.

Only hooks live here; the command line in ``serve`` holds the settings.
"""

from __future__ import annotations

import signal

from bizagent.process_lifetime import die_with_parent


def post_fork(server: object, worker: object) -> None:
    """A web worker dies with its master, so a killed ``serve`` leaves no worker on the port."""
    die_with_parent(signum=signal.SIGKILL, parent_pid=server.pid)
