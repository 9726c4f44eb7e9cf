"""The block catalogue: one module per block, each registering itself on import.

Import this package (``workflows.blocks``) to have every block registered; then
``block_get(slug)`` and ``blocks_all()`` answer.
"""

# Each module registers its block on import; one line per block (add yours in order).
import workflows.blocks.agent
import workflows.blocks.condition
import workflows.blocks.http
import workflows.blocks.llm
import workflows.blocks.llm_structured
import workflows.blocks.memory_buffer
import workflows.blocks.rag_query
import workflows.blocks.set_variables
import workflows.blocks.subflow
import workflows.blocks.switch  # noqa: F401
from workflows.blocks.base import Block, BlockResult, block_get, block_register, blocks_all

__all__ = ["Block", "BlockResult", "block_get", "block_register", "blocks_all"]
