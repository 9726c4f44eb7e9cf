"""The ChatClient protocol: the real client and the test stand-ins all satisfy it."""

from __future__ import annotations

import inspect

from bizagent.llm.backends.vllm import VllmBackend
from bizagent.llm.client import LLMClient
from bizagent.llm.tool_loop import tool_loop_run
from bizagent.llm.types import ChatClient
from goals.services.calls import role_call
from goals.services.iteration import iteration_run
from goals.services.slots import iteration_run_in_slot
from tests.goals.studio import ScriptedClient, StudioClient


def test_the_real_client_satisfies_the_protocol():
    client = LLMClient(VllmBackend(base_url="http://127.0.0.1:9/v1", model="m"), timeout=1)
    assert isinstance(client, ChatClient)


def test_the_test_studio_clients_satisfy_the_protocol():
    assert isinstance(StudioClient(), ChatClient)
    assert isinstance(ScriptedClient(), ChatClient)


def test_something_without_complete_is_not_a_chat_client():
    class NotAClient:
        backend_name = "x"
        model = "x"
        base_url = "x"

    assert not isinstance(NotAClient(), ChatClient)


def test_the_code_that_takes_a_client_is_typed_against_the_protocol():
    for fn in (role_call, tool_loop_run):
        annotation = inspect.signature(fn, eval_str=True).parameters["client"].annotation
        assert annotation is ChatClient, fn.__qualname__
    for fn in (iteration_run, iteration_run_in_slot):
        annotation = inspect.signature(fn, eval_str=True).parameters["client"].annotation
        assert annotation == ChatClient | None, fn.__qualname__
