"""Document collections for the ``rag-query`` block: Collection → Document → Chunk.

Only ``workflows.rag.ingest`` writes these rows, and it keeps the full-text index in
step in the same transaction (on SQLite an FTS5 table ``workflows_chunk_fts`` whose
rowid is the chunk's id; on PostgreSQL a GIN index over the chunks' tsvector, which the
database maintains itself). Both are created by migration ``0003_documents``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["Chunk", "Collection", "Document"]


class Collection(models.Model):
    """A named set of documents a workflow searches (``rag-query``'s ``collection``)."""

    slug = models.SlugField(max_length=80, unique=True, verbose_name=_("slug"))
    name = models.CharField(max_length=200, verbose_name=_("name"))
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("collection")
        verbose_name_plural = _("collections")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Document(models.Model):
    """One file's text, split into chunks; ``checksum`` makes re-adding it a no-op."""

    collection = models.ForeignKey(
        Collection, on_delete=models.PROTECT, related_name="documents", verbose_name=_("collection")
    )
    title = models.CharField(max_length=300, verbose_name=_("title"))
    source = models.CharField(
        max_length=500,
        help_text=_("Where the text came from (a file name)."),
        verbose_name=_("source"),
    )
    text = models.TextField(verbose_name=_("text"))
    checksum = models.CharField(
        max_length=64, help_text=_("SHA-256 of the text (UTF-8)."), verbose_name=_("checksum")
    )
    created = models.DateTimeField(auto_now_add=True, verbose_name=_("created"))

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["collection", "title", "id"]
        constraints = [
            # The same text twice in one collection would only double its weight.
            models.UniqueConstraint(
                fields=["collection", "checksum"], name="workflows_document_unique_checksum"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A passage of a document: what search ranks and returns."""

    document = models.ForeignKey(
        Document, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("document")
    )
    ordinal = models.PositiveIntegerField(
        help_text=_("Position in the document, from 0."), verbose_name=_("ordinal")
    )
    text = models.TextField(verbose_name=_("text"))
    segmented = models.TextField(
        help_text=_("Index terms separated by single spaces."), verbose_name=_("index terms")
    )
    token_count = models.PositiveIntegerField(
        help_text=_("How many index terms (BM25's length)."), verbose_name=_("token count")
    )

    class Meta:
        verbose_name = _("passage")
        verbose_name_plural = _("passages")
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "ordinal"], name="workflows_chunk_unique_ordinal"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"
