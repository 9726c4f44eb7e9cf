"""The block catalogue: one module per block, each registering itself on import.

Import this package (``workflows.blocks``) to have every block registered; then
``block_get(slug)`` and ``blocks_all()`` answer.
"""

from workflows.blocks import agent, http  # noqa: F401 - each module registers its block
from workflows.blocks.base import Block, BlockResult, block_get, block_register, blocks_all

__all__ = ["Block", "BlockResult", "block_get", "block_register", "blocks_all"]
