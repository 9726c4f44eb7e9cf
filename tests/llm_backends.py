"""The model client pointed at the fake gpt-oss server, the one way every test sets it up.

Three doors to the same client: an ``LLMClient`` built here (``fake_client``), Django
settings for code that builds its own (``llm_settings_point``), and the environment of
a child process (``llm_env``). Each backend is named as its server names the model.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bizagent.llm.client import LLMClient, backend_build, llm_retry_policy

BACKENDS = ["vllm", "ollama", "openai"]
MODELS = {"vllm": "openai/gpt-oss-20b", "ollama": "gpt-oss:20b", "openai": "openai/gpt-oss-20b"}


def llm_client_build(
    *,
    backend: str,
    base_url: str,
    timeout: float = 10.0,
    retries: int = 0,
    context_tokens: int = 16384,
) -> LLMClient:
    """An ``LLMClient`` for ``backend`` at ``base_url``; retries wait a hundredth of a second."""
    return LLMClient(
        backend_build(
            backend=backend,
            base_url=base_url,
            model=MODELS[backend],
            api_key=None,
            context_tokens=context_tokens,
        ),
        timeout=timeout,
        retry=replace(
            llm_retry_policy(max_retries=retries, budget=120.0), base_delay=0.01, max_delay=0.02
        ),
    )


def fake_client(fake: Any, backend: str, **options: Any) -> LLMClient:
    """An ``LLMClient`` talking ``backend``'s protocol to the fake gpt-oss server ``fake``."""
    return llm_client_build(backend=backend, base_url=fake.base_url(backend), **options)


def llm_settings_point(
    settings: Any, fake: Any, backend: str = "vllm", *, base_url: str | None = None
) -> None:
    """Point the product's own client (Django settings) at ``fake``: no retries, 10 s."""
    settings.LLM_BACKEND = backend
    settings.LLM_BASE_URL = fake.base_url(backend) if base_url is None else base_url
    settings.LLM_MODEL = MODELS[backend]
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TIMEOUT = 10


def llm_env(fake: Any, backend: str = "vllm") -> dict[str, str]:
    """The environment that points a child manage.py process at ``fake``, without retries."""
    return {
        "BIZAGENT_LLM_BACKEND": backend,
        "BIZAGENT_LLM_BASE_URL": fake.base_url(backend),
        "BIZAGENT_LLM_MAX_RETRIES": "0",
    }
