"""Live single-use decision-link tokens never reach a log: not gunicorn's access or
error log, not Django's request warnings, not the console mail backend's output.

Anyone who can read the logs could otherwise decide. Each test runs the real component:
gunicorn started on loopback, the LOGGING configured from settings, Django's console
mail backend class named by settings."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core import mail as django_mail
from django.core import signing
from django.test import Client

from bizagent.management.commands import serve

ROOT = Path(__file__).resolve().parents[2]
# A token of the real shape (``decisions.services.links``): signed, compressed, with colons.
TOKEN = signing.dumps({"d": 7, "u": 3, "n": "n" * 43}, salt="decisions.link.v1", compress=True)
LINK_PATH = f"/decisions/7/link/{TOKEN}/"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def console_log() -> Iterator[io.StringIO]:
    """What the configured ``console`` handler (settings.LOGGING) writes."""
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == "console"]
    stream = io.StringIO()
    # Swapped without ``setStream``, which flushes the old stream first: under pytest's
    # capture that can be a capture file an earlier test's teardown already closed.
    with handler.lock:  # type: ignore[union-attr]
        previous, handler.stream = handler.stream, stream
    try:
        yield stream
    finally:
        with handler.lock:  # type: ignore[union-attr]
            handler.stream = previous


def test_the_token_pattern_matches_real_tokens_only():
    from bizagent.logredact import link_tokens_redact

    assert TOKEN not in link_tokens_redact(f"GET {LINK_PATH} HTTP/1.1")
    assert link_tokens_redact(f"GET {LINK_PATH} HTTP/1.1") == (
        "GET /decisions/7/link/[redacted]/ HTTP/1.1"
    )
    assert link_tokens_redact(f"http://x{LINK_PATH}?a=1") == (
        "http://x/decisions/7/link/[redacted]/?a=1"
    )
    assert link_tokens_redact("GET /admin/decisions/decision/7/change/") == (
        "GET /admin/decisions/decision/7/change/"
    )


def test_gunicorn_logs_no_token_in_request_lines_or_referers(tmp_path):
    access = tmp_path / "access.log"
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "DJANGO_SETTINGS_MODULE": "bizagent.settings",
        "BIZAGENT_SKIP_DOTENV": "true",
        "BIZAGENT_VAR_DIR": str(tmp_path),
        # Another key than the token's: the page refuses it without touching a database.
        "DJANGO_SECRET_KEY": "another-key-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
    }
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "bizagent.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--logger-class",
            "bizagent.weblog.RedactingLogger",
            "--access-logfile",
            str(access),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{LINK_PATH}",
            headers={"Referer": f"http://127.0.0.1:{port}{LINK_PATH}"},
        )
        status = None
        deadline = time.monotonic() + 30
        while status is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    status = response.status
            except urllib.error.HTTPError as refused:
                status = refused.code
            except OSError:  # not listening yet (URLError, refused, timed out)
                time.sleep(0.2)
        deadline = time.monotonic() + 10
        while "/link/" not in access.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        web.send_signal(signal.SIGTERM)
        _, errors = web.communicate(timeout=30)
    assert status == 400, f"the refused link page did not answer 400:\n{errors}"
    logged = access.read_text()
    assert "GET /decisions/7/link/[redacted]/ HTTP/1.1" in logged
    assert f'"http://127.0.0.1:{port}/decisions/7/link/[redacted]/"' in logged  # the referer
    assert "Bad Request: /decisions/7/link/[redacted]/" in errors  # Django, via LOGGING
    assert TOKEN not in logged + errors


def test_serve_starts_gunicorn_with_the_redacting_logger(monkeypatch):
    started: list[list[str]] = []

    class Exited:
        returncode = 0

        def __init__(self, args: list[str], **kwargs: object) -> None:
            started.append(args)

        def poll(self) -> int:
            return 0

        def wait(self, timeout: float | None = None) -> int:
            return 0

    monkeypatch.setattr(serve.subprocess, "Popen", Exited)
    with pytest.raises(SystemExit):
        serve.Command().handle()
    [web] = [args for args in started if "gunicorn" in args]
    assert web[web.index("--logger-class") + 1] == "bizagent.weblog.RedactingLogger"


@pytest.mark.django_db
def test_django_request_warnings_carry_no_token(console_log):
    assert Client().get(LINK_PATH).status_code == 400
    assert Client(enforce_csrf_checks=True).post(LINK_PATH).status_code == 403
    logging.getLogger("django.server").warning('"GET %s HTTP/1.1" 400 12', LINK_PATH)
    try:
        raise RuntimeError(f"broke on {LINK_PATH}")
    except RuntimeError:
        logging.getLogger("django.request").exception("Internal Server Error: %s", LINK_PATH)
    logged = console_log.getvalue()
    assert "Bad Request: /decisions/7/link/[redacted]/" in logged
    assert "Forbidden (CSRF cookie not set.): /decisions/7/link/[redacted]/" in logged
    assert '"GET /decisions/7/link/[redacted]/ HTTP/1.1" 400 12' in logged
    assert "RuntimeError: broke on /decisions/7/link/[redacted]/" in logged
    assert TOKEN not in logged


def test_internal_api_tokens_never_reach_the_log(console_log):
    # The real shape, from the issuer the workflow engine uses.
    from workflows.internal_token import internal_token_issue

    token = internal_token_issue(run_id=7, workflow_id=3, ttl=60)
    logging.getLogger("urllib3.connectionpool").warning("sent Authorization: Bearer %s", token)
    try:
        raise RuntimeError(f"step failed holding {token}")
    except RuntimeError:
        logging.getLogger("workflows").exception("step error")
    logged = console_log.getvalue()
    assert "sent Authorization: Bearer [redacted]" in logged
    assert "RuntimeError: step failed holding [redacted]" in logged
    assert token not in logged


def test_the_console_mail_backend_prints_no_live_link(settings):
    from bizagent import settings as real_settings

    # What settings choose when EMAIL_HOST is unset (the suite runs without it).
    assert not os.environ.get("EMAIL_HOST")
    assert real_settings.EMAIL_BACKEND == "bizagent.console_mail.RedactingConsoleBackend"
    stream = io.StringIO()
    link = f"http://127.0.0.1:8080{LINK_PATH}"
    message = django_mail.EmailMultiAlternatives(
        subject="Decision needed: Connect Stripe",
        body=f"Review and decide here:\n{link}\n\nAdmin: http://127.0.0.1:8080/admin/\n"
        + "決定してください。" * 200,  # a long non-ASCII body: quoted-printable or base64
        to=["alice@example.com"],
        connection=django_mail.get_connection(real_settings.EMAIL_BACKEND, stream=stream),
    )
    message.attach_alternative(f'<a href="{link}">Review and decide</a>', "text/html")
    assert message.send() == 1
    printed = stream.getvalue()
    assert TOKEN not in printed
    assert "/decisions/7/link/[redacted]/" in printed
    assert "decision links in this mail are redacted" in printed
    assert "Subject: Decision needed: Connect Stripe" in printed
    # The message handed to the backend is not altered (nothing else sees the redaction).
    assert link in message.body
