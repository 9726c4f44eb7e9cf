"""``rag-query``: search a document collection (BM25 full text) for passages.

The engine resolves ``query`` (a prompt key: it often carries a person's or a model's
words, so Harmony markers in it are neutralised) and hands the block its retriever;
the block never touches the ORM.
"""

from __future__ import annotations

from typing import Any

from workflows.blocks.base import (
    Block,
    BlockConfigError,
    BlockContext,
    BlockInputError,
    BlockResult,
    block_register,
)

#: What the retriever raises for an unknown collection or a bad limit (a ValueError
#: with a message naming the problem); kept generic so any Retriever fits.
_RETRIEVER_INPUT_ERRORS = (ValueError,)

RAG_QUERY_MAX_LIMIT = 50


@block_register
class RagQueryBlock(Block):
    slug = "rag-query"
    name = "Search documents"
    category = "data"
    description = (
        "Full-text search (BM25, Japanese segmented) over a document collection; returns "
        "the best passages with their source, title, text and score."
    )
    config_schema = {
        "type": "object",
        "properties": {
            "collection": {
                "type": "string",
                "minLength": 1,
                "description": "The collection's slug.",
            },
            "query": {
                "type": "string",
                "description": "What to search for, e.g. {{ input.query }}.",
            },
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": RAG_QUERY_MAX_LIMIT,
                "default": 5,
                "description": "How many passages at most.",
            },
        },
        "required": ["collection", "query"],
        "additionalProperties": False,
    }
    input_schema = {
        "type": "object",
        "properties": {"query": {"type": "string", "description": "What to search for."}},
        "required": ["query"],
    }
    output_schema = {
        "type": "object",
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "source": {"type": "string"},
                        "title": {"type": "string"},
                        "text": {"type": "string"},
                        "score": {"type": "number"},
                        "document_id": {"type": "integer"},
                        "chunk": {"type": "integer"},
                    },
                    "required": ["source", "title", "text", "score", "document_id", "chunk"],
                },
            }
        },
        "required": ["results"],
    }
    prompt_keys = ("query",)

    def run(
        self, *, config: dict[str, Any], input: dict[str, Any], ctx: BlockContext
    ) -> BlockResult:
        collection = config.get("collection")
        query = config.get("query")
        limit = config.get("limit", 5)
        if not isinstance(collection, str) or not collection.strip():
            raise BlockConfigError("rag-query: 'collection' must name a document collection")
        if not isinstance(query, str):
            raise BlockConfigError(f"rag-query: 'query' must be text, not {type(query).__name__}")
        if not query.strip():
            raise BlockInputError("rag-query: the query is empty; there is nothing to search for")
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= RAG_QUERY_MAX_LIMIT
        ):
            raise BlockConfigError(
                f"rag-query: 'limit' must be a whole number from 1 to {RAG_QUERY_MAX_LIMIT}"
            )
        try:
            results = ctx.retriever.search(collection=collection, query=query, limit=limit)
        except _RETRIEVER_INPUT_ERRORS as exc:
            raise BlockConfigError(f"rag-query: {exc}") from exc
        return BlockResult(output={"results": results})
