"""Document collections searched by full text with BM25 ranking (no vector database).

``segment`` turns text into index terms (janome for Japanese, a lowercase word split
for other scripts), ``ingest`` is the only writer of collections, documents, chunks and
the full-text index, and ``search`` answers queries (the engine's ``Retriever``).
"""
