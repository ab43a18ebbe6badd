from __future__ import annotations

from celery import shared_task

from knowledge.embeddings import EmbeddingError
from knowledge.pipeline import chunks_embed_pending


# Retried with backoff (1, 2, 4 ... 60 s) for as long as the embedding service fails: the
# chunks wait in the table, and every failure is recorded where staff see it.
@shared_task(
    name="knowledge.tasks.embed_pending",
    autoretry_for=(EmbeddingError,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=None,
    ignore_result=True,
)
def embed_pending() -> int:
    return chunks_embed_pending().chunks
