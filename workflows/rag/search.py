"""Ranked full-text search over a collection: the ``Retriever`` behind ``rag-query``.

Where BM25 is computed, and why here: the database's index only finds the candidate
chunks (every chunk holding at least one query term: FTS5 ``MATCH`` on SQLite, a GIN
tsvector ``@@`` on PostgreSQL) and this module scores them, in Python, for both. FTS5's
own ``bm25()`` counts over the whole FTS table (every collection at once) with a
different idf, and PostgreSQL has no BM25 at all, so two scorers would drift and the
same query would rank differently per database. One scorer over the same rows gives
the same chunks, scores and order on both.

BM25 (k1 = 1.2, b = 0.75) per collection: ``N`` chunks, average length from
``Chunk.token_count``, document frequency counted over the candidates (which are
exactly the chunks holding the term), idf ``ln(1 + (N - n + 0.5) / (n + 0.5))`` (never
negative, so a very common term still counts a little). Scores are rounded to 6
decimals and ties go to the lower chunk id, so results are deterministic.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from django.db import connection
from django.db.models import Count, Sum

from workflows.models import Chunk, Collection
from workflows.rag.errors import CollectionNotFound, RagInputError
from workflows.rag.segment import segment_terms

BM25_K1 = 1.2
BM25_B = 0.75
SEARCH_MAX_LIMIT = 50


def rag_search(*, collection: str, query: str, limit: int = 5) -> list[dict[str, Any]]:
    """The ``limit`` best chunks of ``collection`` for ``query``, best first.

    Each result is ``{"source", "title", "text", "score", "document_id", "chunk"}``
    (``chunk`` is the passage's position in its document). A query with no searchable
    words finds nothing. Raises ``CollectionNotFound`` / ``RagInputError``.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= SEARCH_MAX_LIMIT:
        raise RagInputError(
            f"limit must be a whole number from 1 to {SEARCH_MAX_LIMIT}, not {limit!r}"
        )
    target = Collection.objects.filter(slug=collection).first()
    if target is None:
        raise CollectionNotFound(collection)
    terms = list(dict.fromkeys(segment_terms(query)))
    if not terms:
        return []
    candidates = _candidates(collection_id=target.pk, terms=terms)
    if not candidates:
        return []
    totals = Chunk.objects.filter(document__collection=target).aggregate(
        chunks=Count("pk"), tokens=Sum("token_count")
    )
    ranked = _bm25_rank(
        candidates,
        terms=terms,
        total_chunks=totals["chunks"] or 0,
        average_length=(totals["tokens"] or 0) / max(totals["chunks"] or 1, 1),
    )[:limit]
    chunks = Chunk.objects.select_related("document").in_bulk([pk for pk, _ in ranked])
    return [
        {
            "source": chunks[pk].document.source,
            "title": chunks[pk].document.title,
            "text": chunks[pk].text,
            "score": score,
            "document_id": chunks[pk].document_id,
            "chunk": chunks[pk].ordinal,
        }
        for pk, score in ranked
    ]


class ChunkRetriever:
    """The engine's ``Retriever`` (``workflows.blocks.base.Retriever``) over ``rag_search``."""

    def search(self, *, collection: str, query: str, limit: int) -> list[dict[str, Any]]:
        return rag_search(collection=collection, query=query, limit=limit)


def rag_retriever() -> ChunkRetriever:
    """The retriever the engine's context hands to ``rag-query``."""
    return ChunkRetriever()


def retriever_provide(ctx: object) -> ChunkRetriever:
    """The engine's ``retriever`` provider (same shape as ``http_provide``): the
    retriever needs nothing from the step, so every step gets the same kind."""
    return rag_retriever()


def _candidates(*, collection_id: int, terms: list[str]) -> list[tuple[int, str, int]]:
    """``(chunk id, segmented text, token count)`` of chunks holding any of ``terms``."""
    if connection.vendor == "sqlite":
        match = " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
        sql = (
            "SELECT c.id, c.segmented, c.token_count FROM workflows_chunk_fts f "
            "JOIN workflows_chunk c ON c.id = f.rowid "
            "JOIN workflows_document d ON d.id = c.document_id "
            "WHERE workflows_chunk_fts MATCH %s AND d.collection_id = %s"
        )
    elif connection.vendor == "postgresql":
        match = " | ".join(
            "'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms
        )
        # The same expression as the GIN index (migration 0003), so the index is used.
        sql = (
            "SELECT c.id, c.segmented, c.token_count FROM workflows_chunk c "
            "JOIN workflows_document d ON d.id = c.document_id "
            "WHERE to_tsvector('simple'::regconfig, c.segmented) "
            "@@ to_tsquery('simple'::regconfig, %s) AND d.collection_id = %s"
        )
    else:  # pragma: no cover - the migration refuses other databases
        raise RuntimeError(f"document search needs SQLite or PostgreSQL, not {connection.vendor}")
    with connection.cursor() as cursor:
        cursor.execute(sql, [match, collection_id])
        return [(int(pk), str(text), int(length)) for pk, text, length in cursor.fetchall()]


def _bm25_rank(
    candidates: list[tuple[int, str, int]],
    *,
    terms: list[str],
    total_chunks: int,
    average_length: float,
) -> list[tuple[int, float]]:
    """``(chunk id, score)`` of the candidates that hold a query term, best first."""
    frequencies = {pk: Counter(text.split(" ")) for pk, text, _ in candidates}
    document_frequency = {
        term: sum(1 for counts in frequencies.values() if counts[term]) for term in terms
    }
    idf = {
        term: math.log(1 + (total_chunks - n + 0.5) / (n + 0.5))
        for term, n in document_frequency.items()
    }
    scored: list[tuple[int, float]] = []
    for pk, _, length in candidates:
        counts = frequencies[pk]
        norm = BM25_K1 * (1 - BM25_B + BM25_B * length / (average_length or 1))
        score = sum(
            idf[term] * counts[term] * (BM25_K1 + 1) / (counts[term] + norm)
            for term in terms
            if counts[term]
        )
        # Index tokenizers may match a little more than the exact terms; those score 0.
        if score > 0:
            scored.append((pk, round(score, 6)))
    scored.sort(key=lambda item: (-item[1], item[0]))
    return scored
