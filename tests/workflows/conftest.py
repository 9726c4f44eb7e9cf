"""Fixtures shared by the workflow engine's tests."""

import pytest

from tests.workflows.blockctx import BlockCtx


@pytest.fixture
def block_ctx() -> BlockCtx:
    """A test ``BlockContext`` with a dict memory store and no model or network."""
    return BlockCtx()


@pytest.fixture
def llm_ctx(fake_gptoss) -> BlockCtx:
    """A test ``BlockContext`` whose ``llm`` talks vLLM's protocol to the fake gpt-oss."""
    return BlockCtx.for_fake(fake_gptoss)
