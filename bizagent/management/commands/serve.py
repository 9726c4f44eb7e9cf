"""Run the web server (gunicorn) and the django-q2 cluster together, stopping both on Ctrl-C.

Both run as child processes; SIGINT or SIGTERM to this process is forwarded to both and
we wait for them, so neither is left running. If either child dies on its own, the other
is stopped too and the exit code says which failed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from bizagent.env import env_int, env_str

STOP_GRACE_SECONDS = 30


class Command(BaseCommand):
    help = "Serve the admin on BIZAGENT_BIND (127.0.0.1:8080) and run the django-q2 cluster."

    def handle(self, *args: object, **options: object) -> None:
        bind = env_str("BIZAGENT_BIND", "127.0.0.1:8080")
        web_workers = env_int("BIZAGENT_WEB_WORKERS", 2, minimum=1)
        python = sys.executable
        children = {
            "web": subprocess.Popen(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "bizagent.wsgi:application",
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
                ]
            ),
            "qcluster": subprocess.Popen([python, "manage.py", "qcluster"]),
        }
        self.stdout.write(
            f"bizagent: admin at http://{bind}/admin/ ; django-q2 cluster running. "
            "Ctrl-C stops both."
        )
        stopping = False

        def stop(signum: int, frame: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        failed = ""
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    failed = f"{name} exited with code {child.returncode}"
                    stopping = True
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
            self.stderr.write(f"bizagent stopped: {failed}")
            sys.exit(1)
        self.stdout.write("bizagent stopped cleanly.")
