"""``runloop`` as a real process: SIGTERM lets the current iteration finish, then it saves
its state and exits cleanly. Runs against the fake gpt-oss server and the test database
(the SQLite file, or PostgreSQL with ``-m postgres``), which the child opens itself."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from goals.models import Iteration, LoopState, Task
from tests.fake_gptoss import FakeReply
from tests.goals.studio import Studio
from tests.llm_backends import llm_env
from tests.processes import child_env_on_test_database


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sigterm_finishes_the_iteration_and_saves_state(theme, fake_gptoss, processes):
    studio = Studio()

    def respond(request):
        time.sleep(0.2)  # long enough that the signal usually lands mid-iteration
        analysis, answer = studio.answer(request.prompt_text)
        return FakeReply(analysis=analysis, final=json.dumps(answer))

    fake_gptoss.responder = respond
    env = child_env_on_test_database(**llm_env(fake_gptoss, "vllm"))
    child = processes.start("runloop", env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while Iteration.objects.count() < 3 and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()
        time.sleep(0.1)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert "stopping after the current iteration" in err
    assert "loop state saved" in out
    assert Iteration.objects.count() >= 3
    state = LoopState.objects.get()
    assert state.current_task_id is None
    assert state.iterations_total == Iteration.objects.count()
    assert not Task.objects.filter(status=Task.Status.RUNNING).exists()
