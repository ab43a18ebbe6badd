"""Embedding chunks: in batches, once per text and model, retried until the service answers.

Search scores by the active model. When EMBEDDING_MODEL names another one, its vectors are
filled in beside the active model's; search switches when every chunk has one, so there is
no moment when it finds nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import msgspec
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql
from psycopg.rows import class_row

from knowledge.embeddings import (
    LOCAL_MODEL,
    Embedder,
    EmbeddingError,
    embed_texts,
    embedder,
    local_embedder,
)
from knowledge.markdown import slug
from knowledge.models import EmbeddingFailure, EmbeddingModel
from knowledge.streams import articles_mark_answerable
from travelbot.sql import fetch_all, fetch_value

logger = logging.getLogger(__name__)
BATCH = 32

# With document ids (the documents a batch just changed) only their chunks are looked at: an
# index lookup instead of an anti-join over every chunk.
PENDING_SQL = """
SELECT c.chunk_id, c.doc_id, c.heading_path, c.text, c.content_hash FROM knowledge_chunk c
 WHERE NOT EXISTS (SELECT 1 FROM knowledge_chunkembedding e
                    WHERE e.chunk_id = c.chunk_id AND e.model = %s)
   AND (%s::text[] IS NULL OR c.doc_id = ANY(%s::text[]))
 ORDER BY c.doc_id, c.ordinal LIMIT %s FOR UPDATE OF c SKIP LOCKED
"""
STORE_SQL = """
INSERT INTO knowledge_chunkembedding (chunk_id, model, dimensions, content_hash, embedding,
  embedded_at)
SELECT chunk_id, %s, %s, content_hash, embedding::vector, clock_timestamp()
  FROM json_to_recordset(%s::json) AS u(chunk_id text, content_hash text, embedding text)
ON CONFLICT (chunk_id, model) DO UPDATE SET content_hash = excluded.content_hash,
  embedding = excluded.embedding, embedded_at = excluded.embedded_at
"""


def model_register(model: Embedder) -> EmbeddingModel:
    """The configured model's row (active if search has none yet) and its vector index."""
    row, created = EmbeddingModel.objects.get_or_create(
        name=model.name, defaults={"dimensions": model.dimensions}
    )
    if created:
        vector_index_ensure(name=model.name, dimensions=model.dimensions)
    if not EmbeddingModel.objects.filter(active=True).exists():
        EmbeddingModel.objects.filter(pk=row.pk).update(active=True, activated_at=timezone.now())
        row.refresh_from_db()
    return row


def vector_index_ensure(*, name: str, dimensions: int) -> None:
    """An HNSW (cosine) index over one model's vectors: a partial index per model, since
    models differ in dimensions."""
    statement = sql.SQL(
        "CREATE INDEX IF NOT EXISTS {index} ON knowledge_chunkembedding USING hnsw "
        "((embedding::vector({dims})) vector_cosine_ops) WHERE model = {model}"
    ).format(
        index=sql.Identifier(f"chunk_vec_{slug(name).replace('-', '_')}"[:60]),
        dims=sql.Literal(dimensions),
        model=sql.Literal(name),
    )
    with connection.cursor() as cursor:
        cursor.execute(statement.as_string(connection.connection))


@dataclass(frozen=True)
class Embedded:
    chunks: int
    switched_to: str | None


def chunks_embed_pending(*, batch: int = BATCH, doc_ids: list[str] | None = None) -> Embedded:
    """Embed every chunk without a vector under the configured model (of `doc_ids` only, when
    given), batch by batch. An EmbeddingError is recorded for staff and raised (the task
    retries with backoff); what was embedded so far stays."""
    model = embedder()
    model_register(model)
    done, started = 0, time.perf_counter()
    while True:
        try:
            count = _embed_batch(model, batch, doc_ids)
        except EmbeddingError as exc:
            EmbeddingFailure.objects.create(
                model=model.name, error=str(exc)[:4000], pending_chunks=chunks_pending(model.name)
            )
            raise
        if count == 0:
            if done:
                elapsed = time.perf_counter() - started
                logger.info("embedded %d chunk(s) with %s in %.2f s", done, model.name, elapsed)
            return Embedded(chunks=done, switched_to=_switch_if_complete(model.name))
        done += count


@dataclass(frozen=True)
class _PendingChunk:
    """A row of PENDING_SQL."""

    chunk_id: str
    doc_id: str
    heading_path: str
    text: str
    content_hash: str


def _embed_batch(model: Embedder, batch: int, doc_ids: list[str] | None) -> int:
    with transaction.atomic():
        pending = fetch_all(
            PENDING_SQL, [model.name, doc_ids, doc_ids, batch], row=class_row(_PendingChunk)
        )
        if not pending:
            return 0
        vectors = embed_texts([f"{chunk.heading_path}\n{chunk.text}" for chunk in pending])
        document = [
            {"chunk_id": chunk.chunk_id, "content_hash": chunk.content_hash, "embedding": str(v)}
            for chunk, v in zip(pending, vectors, strict=True)
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                STORE_SQL, [model.name, model.dimensions, msgspec.json.encode(document).decode()]
            )
        articles_mark_answerable(doc_ids=sorted({chunk.doc_id for chunk in pending}))
    return len(pending)


def chunks_pending(model: str) -> int:
    return int(
        fetch_value(
            "SELECT count(*) FROM knowledge_chunk c WHERE NOT EXISTS (SELECT 1 FROM "
            "knowledge_chunkembedding e WHERE e.chunk_id = c.chunk_id AND e.model = %s)",
            [model],
        )
    )


@transaction.atomic
def _switch_if_complete(name: str) -> str | None:
    """Make `name` the model search uses once every chunk has its vector; drop the others'."""
    current = EmbeddingModel.objects.select_for_update().filter(active=True).first()
    if current is not None and current.name == name:
        return None
    if chunks_pending(name):
        return None
    EmbeddingModel.objects.filter(active=True).update(active=False)
    EmbeddingModel.objects.filter(name=name).update(active=True, activated_at=timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM knowledge_chunkembedding WHERE model <> %s", [name])
    logger.info("search now uses the embedding model %s", name)
    return name


def active_model() -> EmbeddingModel | None:
    return EmbeddingModel.objects.filter(active=True).first()


def query_embedder(active: EmbeddingModel) -> Embedder | None:
    """An embedder for the model search uses now (the configured one, or the local model
    while a configured remote model is being filled in); None if it is not available."""
    configured = embedder()
    if configured.name == active.name:
        return configured
    if active.name == LOCAL_MODEL:
        return local_embedder()
    return None
