"""Reads of the knowledge base: hybrid retrieval, articles, the editor's lists and history.

`chunks_search` scores a small candidate set two ways and adds the scores. Candidates are
the nearest chunks by meaning (the active model's vectors, pgvector HNSW, cosine) and the
chunks holding the question's rarest words (PostgreSQL full text, GIN). Each candidate gets
its cosine similarity and its BM25 score over the question's words (document frequencies
from `knowledge_termstat`, which triggers keep exact; headings count double); the BM25
scores are scaled to the best one and weighted by TEXT_WEIGHT. Measured on the evaluation
set, this beats reciprocal rank fusion of the two rankings, which let a weak full-text
ranking push good answers out of the top five. Only chunks of live articles in force on the
date asked about (today unless the question names one) are returned; a deleted or
superseded version has no chunks left to find. A chunk the ingestion scan flagged (text
addressed to the assistant) is returned only once a knowledge admin approved its text.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar

from django.db import connection
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from psycopg.rows import class_row

from knowledge.embeddings import configured_model_name
from knowledge.models import Article, Chunk, ChunkApproval, Document, EmbeddingFailure, Revision
from knowledge.pipeline import active_model, chunks_pending, query_embedder
from travelbot.sql import fetch_all
from travelbot.timefmt import iso_z

VECTOR_CANDIDATES = 40
# Rarest question words are matched until their chunks add up to this many.
TEXT_CANDIDATES = 300
TEXT_WEIGHT = 0.15
BM25_K1, BM25_B = 1.2, 0.75
# all-MiniLM was trained on search pairs; marking the question as a query measured +1.6
# points of recall@5 on the evaluation set.
QUERY_PREFIX = "query: "

TERMS_SQL = """
SELECT term, chunks FROM knowledge_termstat
 WHERE term = ANY(tsvector_to_array(to_tsvector('english', %s)) || ARRAY['', ' len'])
"""

SEARCH_SQL = """
WITH by_meaning AS (
  SELECT e.chunk_id FROM knowledge_chunkembedding e
   WHERE e.model = %(model)s
   ORDER BY e.embedding::vector({dims}) <=> %(vector)s::vector({dims})
   LIMIT %(vector_limit)s
), by_words AS (
  SELECT c.chunk_id FROM knowledge_chunk c
   WHERE c.search @@ (SELECT string_agg(quote_literal(t), %(join)s)
                        FROM unnest(%(rare)s::text[]) t)::tsquery
   LIMIT %(text_limit)s
), candidates AS (
  SELECT chunk_id FROM by_meaning WHERE %(use_vector)s
  UNION SELECT chunk_id FROM by_words WHERE %(use_text)s
), idf AS (
  SELECT * FROM json_to_recordset(%(idf)s::json) AS w(term text, idf float8)
)
SELECT c.chunk_id, c.doc_id, c.title, a.version, c.heading, c.heading_path, c.anchor, c.text,
       a.as_of, c.flagged, c.flag_reason,
       1 - (e.embedding::vector({dims}) <=> %(vector)s::vector({dims})) AS cosine,
       (SELECT coalesce(sum(idf.idf * tf * (%(k1)s + 1)
                 / (tf + %(k1)s * (1 - %(b)s + %(b)s * length(c.search) / %(avg_len)s))), 0)
          FROM unnest(c.search) u
          JOIN idf ON idf.term = u.lexeme
          CROSS JOIN LATERAL (
            SELECT coalesce(cardinality(u.positions), 1)
                   + coalesce(cardinality(array_positions(u.weights, 'A')), 0)) f(tf)
       ) AS bm25
  FROM candidates JOIN knowledge_chunk c USING (chunk_id)
  JOIN knowledge_article a ON a.doc_id = c.doc_id AND NOT a.deleted
  LEFT JOIN knowledge_chunkembedding e ON e.chunk_id = c.chunk_id AND e.model = %(model)s
 WHERE (c.effective_from IS NULL OR c.effective_from <= %(day)s)
   AND (c.effective_to IS NULL OR c.effective_to >= %(day)s)
   AND (NOT c.flagged OR EXISTS (
     SELECT 1 FROM knowledge_chunkapproval ap
      WHERE ap.doc_id = c.doc_id AND ap.content_hash = c.content_hash))
"""


@dataclass(frozen=True)
class _Candidate:
    """A row of SEARCH_SQL: a chunk with its two scores (no cosine without a vector)."""

    chunk_id: str
    doc_id: str
    title: str
    version: int
    heading: str
    heading_path: str
    anchor: str
    text: str
    as_of: datetime
    flagged: bool
    flag_reason: str
    cosine: float | None
    bm25: float


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
    active = active_model()
    model = None if active is None else query_embedder(active)
    use_vector = mode in ("hybrid", "vector") and active is not None and model is not None
    use_text = mode in ("hybrid", "text")
    dims = int(active.dimensions) if active is not None else 384
    vector = model.embed([QUERY_PREFIX + query])[0] if use_vector and model else None
    with connection.cursor() as cursor:
        cursor.execute(TERMS_SQL, [query])
        stats = dict(cursor.fetchall())
    weights, rare, join = _term_weights(stats)
    if not (use_vector or (use_text and rare)):
        return []
    candidates = fetch_all(
        SEARCH_SQL.format(dims=dims),
        {
            "model": active.name if active else "",
            "vector": None if vector is None else str(vector),
            "vector_limit": VECTOR_CANDIDATES,
            "rare": rare,
            "join": join,
            "text_limit": TEXT_CANDIDATES,
            "use_vector": use_vector,
            "use_text": use_text and bool(rare),
            "idf": json.dumps([{"term": t, "idf": w} for t, w in weights.items()]),
            "k1": BM25_K1,
            "b": BM25_B,
            "avg_len": max(1.0, stats.get(" len", 0) / max(1, stats.get("", 1))),
            "day": day,
        },
        row=class_row(_Candidate),
    )
    return _ranked(candidates, mode=mode, k=k)


def _term_weights(stats: dict[str, int]) -> tuple[dict[str, float], list[str], str]:
    """BM25's idf of each question word the chunks have, and the words whose chunks are the
    text candidates: the rarest ones, any of them, while their chunks add up to at most
    TEXT_CANDIDATES; when every word is common, chunks with all of the three rarest."""
    total = stats.get("", 0)
    words = {t: df for t, df in stats.items() if t not in ("", " len") and df > 0}
    weights = {t: math.log(1 + (total - df + 0.5) / (df + 0.5)) for t, df in words.items()}
    by_rarity = sorted(words, key=lambda term: (words[term], term))
    rare, covered = [], 0
    for term in by_rarity:
        if covered + words[term] > TEXT_CANDIDATES:
            break
        rare.append(term)
        covered += words[term]
    if rare:
        return weights, rare, " | "
    return weights, by_rarity[:3], " & "


def _ranked(candidates: list[_Candidate], *, mode: str, k: int) -> list[SearchResult]:
    best_bm25 = max((c.bm25 for c in candidates), default=0.0) or 1.0

    def score(c: _Candidate) -> float:
        cosine, bm25 = c.cosine or 0.0, c.bm25 / best_bm25
        if mode == "vector":
            return cosine
        if mode == "text":
            return bm25
        return cosine + TEXT_WEIGHT * bm25

    ranked = sorted(candidates, key=lambda c: (-score(c), c.chunk_id))[:k]
    return [
        SearchResult(
            doc_id=c.doc_id,
            title=c.title,
            version=c.version,
            chunk_id=c.chunk_id,
            heading=c.heading,
            heading_path=c.heading_path,
            anchor=c.anchor,
            text=c.text,
            score=round(score(c), 6),
            as_of=c.as_of,
            flagged=c.flagged,
            flag_reason=c.flag_reason,
        )
        for c in ranked
    ]


def article_get(*, doc_id: str) -> Article | None:
    """A live article as the pipeline has it (the public help page)."""
    return Article.objects.filter(pk=doc_id).first()


@dataclass(frozen=True)
class FlaggedChunk:
    """A flagged chunk of a document as its editor shows it, with its approval if any."""

    chunk: Chunk
    approval: ChunkApproval | None

    @property
    def approved(self) -> bool:
        return self.approval is not None


def flagged_chunks_of(*, doc_id: str) -> list[FlaggedChunk]:
    chunks = list(Chunk.objects.filter(doc_id=doc_id, flagged=True).order_by("ordinal"))
    approvals = {
        a.content_hash: a
        for a in ChunkApproval.objects.filter(
            doc_id=doc_id, content_hash__in=[c.content_hash for c in chunks]
        ).select_related("approved_by")
    }
    return [FlaggedChunk(c, approvals.get(c.content_hash)) for c in chunks]


def documents_awaiting_approval() -> set[str]:
    """Documents with a flagged chunk no admin approved: the assistant does not use it."""
    approved = ChunkApproval.objects.filter(
        doc_id=OuterRef("doc_id"), content_hash=OuterRef("content_hash")
    )
    waiting = Chunk.objects.filter(flagged=True).exclude(Exists(approved))
    return set(waiting.values_list("doc_id", flat=True))


def documents_flagged() -> set[str]:
    return set(Chunk.objects.filter(flagged=True).values_list("doc_id", flat=True))


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

    card_template: ClassVar[str] = "knowledge/_pipeline_embeddings.html"

    @property
    def failing(self) -> bool:
        """Chunks wait and the last attempt at them failed: the service is down."""
        return self.pending_chunks > 0 and self.last_failure is not None

    def as_json(self) -> dict[str, Any]:
        failure = self.last_failure
        return {
            "active_model": self.active_model,
            "configured_model": self.configured_model,
            "pending_chunks": self.pending_chunks,
            "failing": self.failing,
            "last_failure": None
            if failure is None
            else {"at": iso_z(failure.occurred_at), "error": failure.error},
        }


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


# The stream-health page shows these beside the streams (found by the platform's discovery).
PIPELINES = {"embeddings": embedding_status}
