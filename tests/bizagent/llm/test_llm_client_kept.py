"""llm_client keeps one client per thread and settings, so the connection to the model
server stays open from call to call; a changed setting or another thread builds anew."""

from __future__ import annotations

import threading

import pytest

from bizagent.llm.client import llm_client
from bizagent.llm.types import ChatRequest
from tests.fake_gptoss import FakeGptOss, FakeReply
from tests.llm_backends import BACKENDS, llm_settings_point

REQUEST = ChatRequest(instructions="You are terse.", user="Say hello.")


@pytest.mark.parametrize("backend", BACKENDS)
def test_calls_from_the_loop_reuse_one_connection(settings, fake_gptoss, backend):
    llm_settings_point(settings, fake_gptoss, backend)
    for answer in ("one", "two", "three"):
        fake_gptoss.enqueue(FakeReply(final=answer))
        # What every loop iteration does: ask for the configured client, then call it.
        assert llm_client().complete(REQUEST).final == answer
    assert fake_gptoss.connections == 1


def test_a_changed_setting_builds_a_new_client(settings, fake_gptoss):
    llm_settings_point(settings, fake_gptoss)
    first = llm_client()
    assert llm_client() is first
    settings.LLM_TIMEOUT = 30
    assert llm_client() is not first and llm_client().timeout == 30
    with FakeGptOss() as other:
        settings.LLM_BASE_URL = other.base_url("vllm")
        other.enqueue(FakeReply(final="from the other server"))
        assert llm_client().complete(REQUEST).final == "from the other server"
    assert fake_gptoss.requests == []


def test_each_thread_has_its_own_client(settings, fake_gptoss):
    llm_settings_point(settings, fake_gptoss)
    mine = llm_client()
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(llm_client()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine and llm_client() is mine
