"""Reads of the knowledge base: hybrid retrieval, articles, the editor's lists and history.

`chunks_search` fuses two rankings with reciprocal rank fusion: by meaning (the active
model's vectors, pgvector HNSW, cosine) and by words (PostgreSQL full text, any of the
question's words, headings weighted above body). Only chunks of live articles in force on
the date asked about (today unless the question names one) are candidates; a deleted or
superseded version has no chunks left to find.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone

from knowledge.embeddings import configured_model_name
from knowledge.models import Article, Document, EmbeddingFailure, Revision
from knowledge.pipeline import active_model, chunks_pending, query_embedder

CANDIDATES = 40  # per ranking, before fusion
RRF_K = 60

VECTOR_SQL = """
SELECT e.chunk_id FROM knowledge_chunkembedding e
  JOIN knowledge_chunk c ON c.chunk_id = e.chunk_id
 WHERE e.model = %(model)s
   AND (c.effective_from IS NULL OR c.effective_from <= %(day)s)
   AND (c.effective_to IS NULL OR c.effective_to >= %(day)s)
 ORDER BY e.embedding::vector({dims}) <=> %(vector)s::vector({dims})
 LIMIT %(limit)s
"""
TEXT_SQL = """
SELECT c.chunk_id FROM knowledge_chunk c,
       to_tsquery('english', %(terms)s) AS q
 WHERE c.search @@ q
   AND (c.effective_from IS NULL OR c.effective_from <= %(day)s)
   AND (c.effective_to IS NULL OR c.effective_to >= %(day)s)
 ORDER BY ts_rank_cd(c.search, q) DESC, c.chunk_id
 LIMIT %(limit)s
"""
TERMS_SQL = "SELECT replace(plainto_tsquery('english', %s)::text, ' & ', ' | ')"


@dataclass(frozen=True)
class SearchResult:
    doc_id: str
    title: str
    version: int
    chunk_id: str
    heading: str
    heading_path: str
    anchor: str
    text: str
    score: float
    as_of: datetime
    flagged: bool
    flag_reason: str

    @property
    def url(self) -> str:
        return f"/help/{self.doc_id}#{self.anchor}"


def chunks_search(
    *, query: str, k: int = 5, on_date: date | None = None, mode: str = "hybrid"
) -> list[SearchResult]:
    """The k best chunks for `query` in force on `on_date`. `mode` is "hybrid", "vector" or
    "text" (the last two for evaluation)."""
    day = on_date or timezone.localdate()
    rankings = []
    if mode in ("hybrid", "vector"):
        rankings.append(_by_meaning(query, day))
    if mode in ("hybrid", "text"):
        rankings.append(_by_words(query, day))
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    best = sorted(scores, key=lambda c: (-scores[c], c))[:k]
    return _results(best, scores)


def _by_meaning(query: str, day: date) -> list[str]:
    active = active_model()
    model = None if active is None else query_embedder(active)
    if active is None or model is None:
        return []
    vector = model.embed([query])[0]
    with connection.cursor() as cursor:
        cursor.execute(
            VECTOR_SQL.format(dims=int(active.dimensions)),
            {"model": active.name, "day": day, "vector": str(vector), "limit": CANDIDATES},
        )
        return [row[0] for row in cursor.fetchall()]


def _by_words(query: str, day: date) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(TERMS_SQL, [query])
        terms = cursor.fetchone()[0]
        if not terms:
            return []
        cursor.execute(TEXT_SQL, {"terms": terms, "day": day, "limit": CANDIDATES})
        return [row[0] for row in cursor.fetchall()]


def _results(chunk_ids: list[str], scores: dict[str, float]) -> list[SearchResult]:
    if not chunk_ids:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.chunk_id, c.doc_id, c.title, a.version, c.heading, c.heading_path, "
            "c.anchor, c.text, a.as_of, c.flagged, c.flag_reason FROM knowledge_chunk c "
            "JOIN knowledge_article a ON a.doc_id = c.doc_id AND NOT a.deleted "
            "WHERE c.chunk_id = ANY(%s)",
            [chunk_ids],
        )
        rows = {row[0]: row for row in cursor.fetchall()}
    return [
        SearchResult(
            doc_id=row[1],
            title=row[2],
            version=row[3],
            chunk_id=row[0],
            heading=row[4],
            heading_path=row[5],
            anchor=row[6],
            text=row[7],
            score=round(scores[row[0]], 6),
            as_of=row[8],
            flagged=row[9],
            flag_reason=row[10],
        )
        for chunk_id in chunk_ids
        if (row := rows.get(chunk_id)) is not None
    ]


def article_get(*, doc_id: str) -> Article | None:
    """A live article as the pipeline has it (the public help page)."""
    return Article.objects.filter(pk=doc_id).first()


def documents_list(*, text: str = "") -> QuerySet[Document]:
    documents = Document.objects.filter(deleted=False).order_by("title")
    if text.strip():
        documents = documents.filter(
            Q(title__icontains=text) | Q(doc_id__icontains=text) | Q(body__icontains=text)
        )
    return documents


def revisions_of(*, doc_id: str) -> QuerySet[Revision]:
    return Revision.objects.filter(doc_id=doc_id).order_by("-version")


def revisions_diff(*, doc_id: str, old: int, new: int) -> list[tuple[str, str]]:
    """(kind, line) of a unified diff between two versions: kind is "+", "-", "@" or " "."""
    a = Revision.objects.get(doc_id=doc_id, version=old)
    b = Revision.objects.get(doc_id=doc_id, version=new)
    before = [f"# {a.title}", *a.body.splitlines()]
    after = [f"# {b.title}", *b.body.splitlines()]
    lines = difflib.unified_diff(before, after, f"version {old}", f"version {new}", lineterm="")
    return [(line[:1] if line[:1] in "+-@" else " ", line) for line in list(lines)[2:]]


@dataclass(frozen=True)
class Liveness:
    """Where a saved version stands in the pipeline."""

    version: int
    saved_at: datetime
    delivered: bool  # the stream has applied this version
    answerable_at: datetime | None
    pending_chunks: int
    last_failure: EmbeddingFailure | None

    @property
    def live_after_s(self) -> float | None:
        if self.answerable_at is None:
            return None
        return max(0.0, (self.answerable_at - self.saved_at).total_seconds())


def document_liveness(*, doc_id: str) -> Liveness | None:
    revision = Revision.objects.filter(doc_id=doc_id).order_by("-version").first()
    if revision is None:
        return None
    article = Article.with_deleted.filter(pk=doc_id).first()
    delivered = article is not None and article.version >= revision.published_lsn
    active = active_model()
    return Liveness(
        version=revision.version,
        saved_at=revision.saved_at,
        delivered=delivered,
        answerable_at=article.answerable_at if delivered and article else None,
        pending_chunks=chunks_pending(active.name) if active else 0,
        last_failure=EmbeddingFailure.objects.order_by("-occurred_at").first(),
    )


@dataclass(frozen=True)
class EmbeddingStatus:
    """The embedding pipeline for staff: which model search uses, what waits, the last error."""

    active_model: str | None
    configured_model: str
    pending_chunks: int
    last_failure: EmbeddingFailure | None

    @property
    def failing(self) -> bool:
        """Chunks wait and the last attempt at them failed: the service is down."""
        return self.pending_chunks > 0 and self.last_failure is not None


def embedding_status() -> EmbeddingStatus:
    configured = configured_model_name()
    active = active_model()
    last = EmbeddingFailure.objects.order_by("-occurred_at").first()
    pending = chunks_pending(configured)
    return EmbeddingStatus(
        active_model=active.name if active else None,
        configured_model=configured,
        pending_chunks=pending,
        # A failure older than the last complete run is history, not the state now.
        last_failure=last if pending else None,
    )
