"""`manage.py llmcheck`: one real round trip; exit status and the exact cause on failure."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.fake_gptoss import FakeReply
from tests.processes import clean_env, manage_run


def llmcheck(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    vocab = os.environ.get("TIKTOKEN_ENCODINGS_BASE", str(tmp_path / "vocab"))
    return manage_run(
        "llmcheck", env=clean_env(tmp_path, BIZAGENT_VOCAB_DIR=vocab, **env), timeout=120
    )


@pytest.mark.parametrize("backend", ["vllm", "ollama", "openai"])
def test_it_succeeds_against_a_server_on_loopback(tmp_path, fake_gptoss, backend):
    fake_gptoss.enqueue(FakeReply(analysis="Health check.", final="pong"))
    done = llmcheck(
        tmp_path,
        BIZAGENT_LLM_BACKEND=backend,
        BIZAGENT_LLM_BASE_URL=fake_gptoss.base_url(backend),
    )
    assert done.returncode == 0, done.stderr
    assert f"backend: {backend}" in done.stdout
    assert "latency: " in done.stdout and " ms" in done.stdout
    assert "tokens: " in done.stdout and "answer:  pong" in done.stdout
    assert len(fake_gptoss.requests) == 1


def test_it_fails_clearly_when_nothing_listens(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = llmcheck(tmp_path, BIZAGENT_LLM_BASE_URL=f"http://127.0.0.1:{port}/v1")
    assert done.returncode != 0
    assert (
        f"[unreachable] model server unreachable (openai/gpt-oss-20b at "
        f"http://127.0.0.1:{port}/v1/completions): connection refused" in done.stderr
    )
    assert "Traceback" not in done.stderr


def test_it_reports_the_server_message_for_an_unknown_model(tmp_path, fake_gptoss):
    done = llmcheck(
        tmp_path,
        BIZAGENT_LLM_BASE_URL=fake_gptoss.base_url("vllm"),
        BIZAGENT_LLM_MODEL="no-such-model",
    )
    assert done.returncode != 0
    assert "[server_error]" in done.stderr and "HTTP 404" in done.stderr
    assert "no-such-model" in done.stderr


def test_it_reports_a_timeout(tmp_path, fake_gptoss):
    fake_gptoss.enqueue(FakeReply(final="late", failure="slow", delay=5.0))
    done = llmcheck(
        tmp_path,
        BIZAGENT_LLM_BASE_URL=fake_gptoss.base_url("vllm"),
        BIZAGENT_LLM_TIMEOUT="1",
    )
    assert done.returncode != 0
    assert (
        "[timeout] model server timed out" in done.stderr and "no answer within 1s" in done.stderr
    )


SECRET = "s3cr3t-pw-0042"


def test_it_never_prints_a_password_from_the_url(tmp_path, fake_gptoss):
    fake_gptoss.enqueue(FakeReply(analysis="Health check.", final="pong"))
    done = llmcheck(
        tmp_path,
        BIZAGENT_LLM_BASE_URL=f"http://ops:{SECRET}@127.0.0.1:{fake_gptoss.port}/v1",
    )
    assert done.returncode == 0, done.stderr
    assert f"server:  http://***:***@127.0.0.1:{fake_gptoss.port}/v1" in done.stdout
    assert SECRET not in done.stdout + done.stderr


def test_a_failure_at_a_url_with_a_password_does_not_print_it(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = llmcheck(tmp_path, BIZAGENT_LLM_BASE_URL=f"http://ops:{SECRET}@127.0.0.1:{port}/v1")
    assert done.returncode != 0
    assert f"at http://***:***@127.0.0.1:{port}/v1/completions): connection refused" in done.stderr
    assert SECRET not in done.stdout + done.stderr
