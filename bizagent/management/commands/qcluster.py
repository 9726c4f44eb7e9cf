"""`manage.py qcluster`: django-q2's cluster, whose processes die with it and stop in bounded time.

This shadows django_q's own command (bizagent is listed before django_q in
INSTALLED_APPS) and changes three things about how the cluster lives and dies:

- Every process the cluster forks (sentinel; workers, monitor, pusher below it) is
  SIGKILLed by the kernel when its parent dies, so a SIGKILLed qcluster leaves no
  orphan running the loop beside the next cluster.
- The sentinel leads its own process group. A SIGTERM sent to qcluster's whole group
  used to kill the sentinel inside ``stop_event.wait()``; multiprocessing's Condition
  then counts a sleeper that will never acknowledge its wake-up, and the parent's
  ``stop_event.set()`` waited for it forever (13+ minutes seen). Now only this process
  receives the group's signals and stops the cluster in order.
- Stopping is bounded: the stop event is set from a thread we may abandon, the sentinel
  gets STOP_GRACE_SECONDS to finish, then its whole process group is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django_q.cluster import Cluster
from django_q.management.commands.qcluster import Command as DjangoQCommand

from bizagent.command_language import staff_language
from bizagent.process_lifetime import forked_children_die_with_parent

# Inside serve's own grace (30 s), so serve sees a clean stop. A task still running after
# this is cut short; django-q2 delivers it again (tasks are idempotent).
STOP_GRACE_SECONDS = 20


class Command(DjangoQCommand):
    help = "Start the django-q2 cluster; SIGTERM or Ctrl-C stops it within a bounded time."

    @staff_language
    def handle(self, *args: object, **options: object) -> None:
        # django-q2 signs tasks with SECRET_KEY: fail now rather than in a worker.
        if not settings.SECRET_KEY:
            raise CommandError(_("DJANGO_SECRET_KEY is not set; django-q2 signs tasks with it."))
        if options.get("cluster_name"):
            os.environ["Q_CLUSTER_NAME"] = str(options["cluster_name"])
        forked_children_die_with_parent(own_process_group=True)
        cluster = Cluster()
        stop_requested = threading.Event()

        def request_stop(signum: int, frame: object) -> None:
            stop_requested.set()

        # Replace django-q2's handler, which calls stop() (and its unbounded join) from
        # inside the signal handler.
        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        cluster.start()
        if not options.get("run_once"):
            while not stop_requested.is_set() and cluster.sentinel.is_alive():
                stop_requested.wait(0.5)
        crashed = not stop_requested.is_set() and not options.get("run_once")
        forced = cluster_stop(cluster=cluster, grace=STOP_GRACE_SECONDS)
        if crashed:
            self.stderr.write(
                _("qcluster: the cluster's sentinel exited with code %(code)s")
                % {"code": cluster.sentinel.exitcode}
            )
            sys.exit(1)
        if forced:
            self.stderr.write(
                _("qcluster: the cluster did not stop within %(seconds)ss; killed it.")
                % {"seconds": STOP_GRACE_SECONDS}
            )
            sys.exit(1)
        self.stdout.write(_("qcluster: cluster stopped cleanly."))


def cluster_stop(*, cluster: Cluster, grace: float) -> bool:
    """Stop ``cluster`` in order within ``grace`` seconds, else kill it. True if killed."""
    sentinel = cluster.sentinel
    if sentinel.is_alive():
        # Event.set() waits for every sleeper to acknowledge; a sentinel that died in
        # wait() never does, so the set runs where a hang cannot hold us.
        threading.Thread(target=cluster.stop_event.set, daemon=True).start()
        sentinel.join(timeout=grace)
    if not sentinel.is_alive():
        # Its children follow it through PDEATHSIG.
        return False
    # Still running, so not yet reaped: its pid, which is its group's id, is still ours.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(sentinel.pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while sentinel.is_alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    return True
