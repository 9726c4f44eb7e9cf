"""rag_search: BM25-ranked chunks of one collection, Japanese and English, the same
chunks, scores and order on SQLite (FTS5 candidates) and PostgreSQL (GIN tsvector
candidates), because one scorer ranks both."""

from __future__ import annotations

import pytest

from tests.workflows.rag_corpus import corpus_load
from workflows.models import Document
from workflows.rag.errors import CollectionNotFound, RagInputError
from workflows.rag.ingest import collection_create, document_add
from workflows.rag.search import rag_retriever, rag_search, retriever_provide

# The index differs per database (FTS5 on SQLite, a tsvector GIN index on PostgreSQL):
# run on both, with the same table of expectations.
pytestmark = pytest.mark.postgres

# query -> the sources found, best first, and the score of each (rounded to 6 places).
SEARCHES = [
    # Two-character Japanese words found inside longer sentences; the document about
    # returns ranks first for 返品, the sales report that mentions it once second.
    ("返品", [("returns.md", 1.46347), ("sales.txt", 0.850613)]),
    ("売上", [("sales.txt", 1.868616)]),
    # Equal scores: the lower id (the one added first) comes first.
    ("顧客", [("support.md", 0.549705), ("returns.md", 0.523694), ("sales.txt", 0.523694)]),
    # Particles and empty verbs in a question do not count.
    ("返品について教えてください", [("returns.md", 1.46347), ("sales.txt", 0.850613)]),
    ("returns", [("shipping.md", 2.145621)]),
    ("RETURNS", [("shipping.md", 2.145621)]),
    ("cancel the plan", [("pricing.md", 2.975461)]),
    ("support desk", [("support.md", 2.827673)]),
    ("30", [("returns.md", 0.850613), ("shipping.md", 0.850613)]),
    ("の。、", []),
    ("quantum", []),
]


@pytest.fixture
def corpus(db):
    corpus_load()
    return {doc.source: doc.pk for doc in Document.objects.all()}


@pytest.mark.parametrize(("query", "expected"), SEARCHES, ids=[q for q, _ in SEARCHES])
def test_it_ranks_the_same_chunks_in_the_same_order(corpus, query, expected):
    results = rag_search(collection="help", query=query, limit=10)
    assert [(r["document_id"], r["score"]) for r in results] == [
        (corpus[source], score) for source, score in expected
    ]


def test_a_result_says_where_its_text_comes_from(corpus):
    [result] = rag_search(collection="help", query="売上", limit=3)
    assert result == {
        "source": "sales.txt",
        "title": "sales",
        "text": result["text"],
        "score": 1.868616,
        "document_id": corpus["sales.txt"],
        "chunk": 0,
    }
    assert "今月の売上" in result["text"]


def test_limit_keeps_the_best(corpus):
    results = rag_search(collection="help", query="顧客", limit=1)
    assert [r["document_id"] for r in results] == [corpus["support.md"]]


def test_a_chunk_is_found_by_its_own_passage(db):
    collection_create(slug="long", name="Long", actor=None)
    text = "\n\n".join(
        [
            "Invoices are sent monthly. " * 30,
            "Refunds take five days. " * 30,
            "Tax is included. " * 30,
        ]
    )
    document_add(collection="long", source="handbook.md", text=text, actor=None)
    [first] = rag_search(collection="long", query="refunds", limit=1)
    assert first["chunk"] > 0
    assert "Refunds take five days." in first["text"]


def test_it_searches_only_the_named_collection(corpus):
    collection_create(slug="other", name="Other", actor=None)
    document_add(collection="other", source="x.md", text="返品は受け付けません", actor=None)
    assert {r["source"] for r in rag_search(collection="other", query="返品", limit=10)} == {"x.md"}
    assert "x.md" not in {r["source"] for r in rag_search(collection="help", query="返品")}


def test_an_unknown_collection_is_named(db):
    with pytest.raises(CollectionNotFound, match="no document collection is called 'nope'"):
        rag_search(collection="nope", query="返品", limit=5)


@pytest.mark.parametrize("limit", [0, 51, "5", True])
def test_a_bad_limit_is_refused(corpus, limit):
    with pytest.raises(RagInputError, match="limit must be a whole number from 1 to 50"):
        rag_search(collection="help", query="返品", limit=limit)


def test_the_retriever_answers_as_rag_search(corpus):
    assert rag_retriever().search(collection="help", query="返品", limit=5) == rag_search(
        collection="help", query="返品", limit=5
    )


def test_the_engine_provider_hands_out_the_same_retriever(corpus):
    retriever = retriever_provide(object())
    assert retriever.search(collection="help", query="売上", limit=1) == rag_search(
        collection="help", query="売上", limit=1
    )
