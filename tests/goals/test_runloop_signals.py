"""``runloop`` as a real process: SIGTERM lets the current iteration finish, then it saves
its state and exits cleanly. Runs against the fake gpt-oss server and the test database
(the SQLite file, or PostgreSQL with ``-m postgres``), which the child opens itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection

from goals.models import Iteration, LoopState, Task
from tests.fake_gptoss import FakeReply
from tests.goals.studio import Studio

ROOT = Path(__file__).resolve().parents[2]


def _child_database_url() -> str:
    """The test database, as the child process's DATABASE_URL (SQLite or PostgreSQL)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings["USER"] or "", safe="")
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings.get("PASSWORD") else ""
    host = settings["HOST"] or "127.0.0.1"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{settings['NAME']}"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sigterm_finishes_the_iteration_and_saves_state(theme, fake_gptoss):
    studio = Studio()

    def respond(request):
        time.sleep(0.2)  # long enough that the signal usually lands mid-iteration
        analysis, answer = studio.answer(request.prompt_text)
        return FakeReply(analysis=analysis, final=json.dumps(answer))

    fake_gptoss.responder = respond
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bizagent.settings_test",
        "DATABASE_URL": _child_database_url(),
        "BIZAGENT_LLM_BACKEND": "vllm",
        "BIZAGENT_LLM_BASE_URL": fake_gptoss.base_url("vllm"),
        "BIZAGENT_LLM_MAX_RETRIES": "0",
    }
    child = subprocess.Popen(
        [sys.executable, "manage.py", "runloop"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while Iteration.objects.count() < 3 and time.monotonic() < deadline:
            assert child.poll() is None, child.communicate()
            time.sleep(0.1)
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert "stopping after the current iteration" in err
    assert "loop state saved" in out
    assert Iteration.objects.count() >= 3
    state = LoopState.objects.get()
    assert state.current_task_id is None
    assert state.iterations_total == Iteration.objects.count()
    assert not Task.objects.filter(status=Task.Status.RUNNING).exists()
