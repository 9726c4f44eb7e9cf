"""Run the web server (gunicorn) and the django-q2 cluster together, stopping both on Ctrl-C.

Both run as child processes; SIGINT or SIGTERM to this process is forwarded to both and
we wait for them, so neither is left running. If either child dies on its own, the other
is stopped too and the exit code says which failed. If this process is killed outright,
the kernel sends each child SIGTERM (PDEATHSIG), and each child's own children die with
it (see ``bizagent.process_lifetime``), so nothing is left behind.

One serve per SQLite database: a second one refuses to start (``bizagent.serve_lock``).

``make run`` hands a freshly generated admin password over in BIZAGENT_ONE_TIME_ADMIN_PASSWORD;
it is removed from the environment before the children start, and printed once, last,
with the admin URL, when the web server answers and the cluster runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext

from bizagent.command_language import staff_language
from bizagent.env import env_int, env_str
from bizagent.process_lifetime import die_with_parent
from bizagent.serve_lock import serve_lock_acquire

STOP_GRACE_SECONDS = 30
# After this long without both children ready, the admin line is shown anyway.
READY_WAIT_SECONDS = 120
ONE_TIME_PASSWORD_ENV = "BIZAGENT_ONE_TIME_ADMIN_PASSWORD"  # noqa: S105 (a variable name)


class Command(BaseCommand):
    help = "Serve the admin on BIZAGENT_BIND (127.0.0.1:8080) and run the django-q2 cluster."

    @staff_language
    def handle(self, *args: object, **options: object) -> None:
        bind = env_str("BIZAGENT_BIND", "127.0.0.1:8080")
        web_workers = env_int("BIZAGENT_WEB_WORKERS", 2, minimum=1, maximum=64)
        # Held until this process exits; refuses a second serve on this SQLite database.
        lock = serve_lock_acquire(database=settings.DATABASES["default"])  # noqa: F841
        # Popped before any child starts, so no child (nor its /proc environ) carries it.
        password = os.environ.pop(ONE_TIME_PASSWORD_ENV, None)
        python = sys.executable
        serve_pid = os.getpid()

        def die_with_serve() -> None:
            # SIGTERM: each child then stops its own children in order, within its bound.
            die_with_parent(signum=signal.SIGTERM, parent_pid=serve_pid)

        children = {
            "web": subprocess.Popen(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "bizagent.wsgi:application",
                    "--config",
                    "python:bizagent.gunicorn_conf",
                    "--bind",
                    bind,
                    "--workers",
                    str(web_workers),
                    "--access-logfile",
                    "-",
                    "--logger-class",  # link tokens never reach the access or error log
                    "bizagent.weblog.RedactingLogger",
                    "--graceful-timeout",
                    "20",
                ],
                preexec_fn=die_with_serve,  # serve is single-threaded here
            ),
            "qcluster": subprocess.Popen(
                [python, "manage.py", "qcluster"],
                preexec_fn=die_with_serve,
            ),
        }
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failed = ""
        announced = False
        ready_deadline = time.monotonic() + READY_WAIT_SECONDS
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    failed = gettext("%(name)s exited with code %(code)s") % {
                        "name": name,
                        "code": child.returncode,
                    }
                    stopping = True
            if not stopping and not announced:
                ready = web_answers(bind=bind) and cluster_runs(pid=children["qcluster"].pid)
                if ready or time.monotonic() > ready_deadline:
                    self.announce(bind=bind, password=password)
                    password = None
                    announced = True
            time.sleep(0.5)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        if failed:
            self.stderr.write(gettext("bizagent stopped: %(why)s") % {"why": failed})
            sys.exit(1)
        self.stdout.write(gettext("bizagent stopped cleanly."))

    def announce(self, *, bind: str, password: str | None) -> None:
        """The admin URL, and a handed-over password last, after the children's start-up."""
        url = f"http://{bind}/admin/"
        self.stdout.write(
            gettext("bizagent: admin at %(url)s ; django-q2 cluster running. Ctrl-C stops both.")
            % {"url": url}
        )
        if password:
            user = env_str("BIZAGENT_ADMIN_USER", "admin")
            self.stdout.write(
                self.style.WARNING(
                    gettext(
                        "Admin: %(url)s  user %(user)s  password %(password)s "
                        "(shown once; change it in the admin)"
                    )
                    % {"url": url, "user": user, "password": password}
                )
            )
        self.stdout.flush()


def web_answers(*, bind: str) -> bool:
    """True once gunicorn's workers answer HTTP on ``bind`` (any status will do)."""
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        return True  # a unix socket or an unusual bind: nothing to poll, do not wait
    # Connect where a wildcard bind listens.
    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(host, host)  # noqa: S104
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/admin/login/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def cluster_runs(*, pid: int) -> bool:
    """True once the cluster started as ``pid`` reports itself idle or working."""
    from django_q.brokers import get_broker
    from django_q.conf import Conf
    from django_q.status import Stat

    try:
        stats = Stat.get_all(broker=get_broker())
    except Exception:  # a cache hiccup only delays the announcement
        return False
    return any(stat.pid == pid and stat.status in (Conf.IDLE, Conf.WORKING) for stat in stats)
