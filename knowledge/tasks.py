from __future__ import annotations

from celery import shared_task
from celery.signals import worker_process_init

from knowledge.embeddings import EmbeddingError, local_embedder
from knowledge.pipeline import chunks_embed_pending
from knowledge.streams import EMBED_PENDING_TASK


# Retried with backoff (1, 2, 4 ... 60 s) for as long as the embedding service fails: the
# chunks wait in the table, and every failure is recorded where staff see it.
@shared_task(
    name=EMBED_PENDING_TASK,
    autoretry_for=(EmbeddingError,),
    retry_backoff=1,
    retry_backoff_max=60,
    retry_jitter=False,
    max_retries=None,
    ignore_result=True,
)
def embed_pending(doc_ids: list[str] | None = None) -> int:
    """Embed what waits: the chunks of `doc_ids` right after a batch changed them, everything
    on the periodic run (which also catches what a failed run left)."""
    return chunks_embed_pending(doc_ids=doc_ids).chunks


@worker_process_init.connect
def _load_the_model(**kwargs: object) -> None:
    """Load the local model when a worker process starts, not in the first save's time."""
    from django.conf import settings

    if not settings.EMBEDDING_BASE_URL:
        local_embedder()
