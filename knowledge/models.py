"""The knowledge base: what admins write, and what the assistant can retrieve.

The editor's side keeps documents and every revision. The pipeline's side mirrors the
`knowledge.documents` stream (the editor publishes there like any external CMS) into
`Article` rows under the version guard, splits them into `Chunk`s that follow the headings,
and embeds each chunk once per model (`ChunkEmbedding`): an unchanged chunk keeps its vector
across edits, and a new model is filled in beside the old one before search switches to it.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import VectorField

from travelbot.streams.mirror import Versioned


class Document(models.Model):
    """A help article as the editor keeps it; `version` counts its saves."""

    doc_id = models.CharField(max_length=100, primary_key=True)
    title = models.CharField(max_length=200)
    body = models.TextField()
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    effective_from = models.DateField(null=True, blank=True)
    effective_to = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=0)
    deleted = models.BooleanField(default=False)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.doc_id} v{self.version}"


class Revision(models.Model):
    """One saved version of a document (a deletion is a revision too)."""

    doc_id = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    tags = ArrayField(models.CharField(max_length=50), default=list)
    effective_from = models.DateField(null=True)
    effective_to = models.DateField(null=True)
    deleted = models.BooleanField(default=False)
    saved_at = models.DateTimeField()
    saved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    published_lsn = models.BigIntegerField()  # the source.lsn its event carries

    class Meta:
        constraints = [models.UniqueConstraint(fields=["doc_id", "version"], name="revision_once")]

    def __str__(self) -> str:
        return f"{self.doc_id} v{self.version}"


class Article(Versioned):
    """A document as the `knowledge.documents` stream delivered it (any publisher)."""

    doc_id = models.CharField(max_length=100, primary_key=True)
    title = models.CharField(max_length=200, null=True)
    body = models.TextField(null=True)
    tags = models.JSONField(null=True)
    effective_from = models.DateField(null=True)
    effective_to = models.DateField(null=True)
    updated_at = models.DateTimeField(null=True)
    # When every chunk of this version could be found by meaning, not only by its words.
    answerable_at = models.DateTimeField(null=True)


class Chunk(models.Model):
    """A retrievable piece of an article's current version, following its headings."""

    chunk_id = models.CharField(max_length=200, primary_key=True)  # "<doc_id>#<anchor>"
    doc_id = models.CharField(max_length=100, db_index=True)
    doc_version = models.BigIntegerField()
    ordinal = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    heading = models.CharField(max_length=300)
    heading_path = models.CharField(max_length=600)
    anchor = models.CharField(max_length=200)
    text = models.TextField()
    content_hash = models.CharField(max_length=64)
    # Copied from the article, so search filters without a join.
    effective_from = models.DateField(null=True)
    effective_to = models.DateField(null=True)
    search = SearchVectorField(null=True)  # set from heading_path and text
    # Text in this chunk that addresses the assistant, not the traveller (see knowledge.safety):
    # the chunk is not retrieved until a ChunkApproval holds for its text.
    flagged = models.BooleanField(default=False)
    flag_reason = models.TextField(blank=True)
    flag_passage = models.TextField(blank=True)

    def __str__(self) -> str:
        return self.chunk_id


class ChunkApproval(models.Model):
    """A knowledge admin's word that a flagged chunk's text may reach the assistant.

    Flagged chunks are never retrieved until approved. The approval holds for the text it
    was given on (`content_hash` covers the heading path and text, all a prompt shows of a
    chunk), so it survives edits elsewhere in the document and a chunk moving, and an edit
    that changes the chunk's text needs a new one.
    """

    doc_id = models.CharField(max_length=100)
    content_hash = models.CharField(max_length=64)
    chunk_id = models.CharField(max_length=200)  # where the text was when approved
    approved_at = models.DateTimeField()
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["doc_id", "content_hash"], name="chunk_approval_once")
        ]

    def __str__(self) -> str:
        return f"{self.chunk_id} ({self.content_hash[:8]})"


class ChunkEmbedding(models.Model):
    """A chunk's vector under one model; `content_hash` says which text it embeds."""

    chunk_id = models.CharField(max_length=200)
    model = models.CharField(max_length=100)
    dimensions = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    embedding = VectorField()
    embedded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["chunk_id", "model"], name="chunk_embedding_once")
        ]

    def __str__(self) -> str:
        return f"{self.chunk_id} ({self.model})"


class EmbeddingModel(models.Model):
    """The model search uses, and one being filled in to replace it."""

    name = models.CharField(max_length=100, primary_key=True)
    dimensions = models.PositiveIntegerField()
    active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.name} ({'active' if self.active else 'filling in'})"


class EmbeddingFailure(models.Model):
    """The embedding service failed; the work waits and is retried (shown to staff)."""

    occurred_at = models.DateTimeField(auto_now_add=True)
    model = models.CharField(max_length=100)
    error = models.TextField()
    pending_chunks = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.model}: {self.error[:60]}"
