"""The knowledge.documents stream: articles, their chunks, and what needs embedding.

Per batch, in its transaction: articles are mirrored with the version guard; each changed
article's chunks are replaced by those of its new text (a deleted article loses all of them
at once); a chunk whose text did not change keeps its vectors, one whose text changed loses
them, so search never scores stale text by an old meaning. New or changed chunks are
searchable by their words at once and by meaning as soon as the embedding task has run.
"""

from __future__ import annotations

from typing import Any

import msgspec
from django.db import connection

from knowledge.markdown import chunks
from knowledge.models import Article
from knowledge.safety import scan
from travelbot.enqueue import task_send_on_commit
from travelbot.streams import contract
from travelbot.streams.contract import DocumentRow
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.registry import BatchResult, cdc_stream
from travelbot.streams.upsert import VersionedTable, latest_per_key, versioned_upsert

ARTICLES = VersionedTable.for_model(Article)
EMBED_PENDING_TASK = "knowledge.tasks.embed_pending"


def _article_values(row: DocumentRow) -> dict[str, Any]:
    return {
        "title": row.title,
        "body": row.body,
        "tags": list(row.tags),
        "effective_from": row.effective_from,
        "effective_to": row.effective_to,
        "updated_at": row.updated_at,
        "answerable_at": None,  # set once every chunk is embedded
    }


def documents_apply(events: list[ChangeEvent]) -> BatchResult:
    result = versioned_upsert(table=ARTICLES, events=events, row_values=_article_values)
    changed = [e for e in latest_per_key(events) if e.key in result.changed_keys]
    if changed:
        chunks_replace(changed)
        doc_ids = sorted({e.key for e in changed})
        # If the broker cannot take it, the periodic run embeds them instead.
        task_send_on_commit(EMBED_PENDING_TASK, kwargs={"doc_ids": doc_ids})
    return result


def chunks_replace(events: list[ChangeEvent]) -> None:
    """The chunk sets of changed articles, set-based: one JSON document for all of them."""
    rows = []
    for event in events:
        if event.row is None:
            continue
        row: DocumentRow = event.row
        for chunk in chunks(row.doc_id, row.title, row.body):
            findings = scan(chunk.source)
            rows.append(
                {
                    "chunk_id": chunk.chunk_id,
                    "doc_id": row.doc_id,
                    "doc_version": event.lsn,
                    "ordinal": chunk.ordinal,
                    "title": row.title,
                    "heading": chunk.heading[:300],
                    "heading_path": chunk.heading_path[:600],
                    "anchor": chunk.anchor[:200],
                    "text": chunk.text,
                    "content_hash": chunk.content_hash,
                    "effective_from": row.effective_from,
                    "effective_to": row.effective_to,
                    "flagged": bool(findings),
                    "flag_reason": "; ".join(sorted({f.reason for f in findings})),
                    "flag_passage": findings[0].passage if findings else "",
                }
            )
    doc_ids = [event.key for event in events]
    with connection.cursor() as cursor:
        cursor.execute(REPLACE_SQL, [msgspec.json.encode(rows).decode(), doc_ids])
        cursor.execute(STALE_VECTORS_SQL, [doc_ids])
    articles_mark_answerable(doc_ids=doc_ids)


def articles_mark_answerable(*, doc_ids: list[str]) -> None:
    """Stamp the articles whose every chunk has a vector under the model search uses."""
    with connection.cursor() as cursor:
        cursor.execute(ANSWERABLE_SQL, [doc_ids])


# Old chunks that the new versions no longer have go (with their vectors); kept chunks are
# updated in place; a vector stays only while its chunk's text is the text it embeds.
REPLACE_SQL = """
WITH incoming AS (
  SELECT * FROM json_to_recordset(%s::json) AS u(
    chunk_id text, doc_id text, doc_version bigint, ordinal int, title text, heading text,
    heading_path text, anchor text, text text, content_hash text, effective_from date,
    effective_to date, flagged boolean, flag_reason text, flag_passage text)
), gone AS (
  DELETE FROM knowledge_chunk c WHERE c.doc_id = ANY(%s)
     AND c.chunk_id NOT IN (SELECT chunk_id FROM incoming) RETURNING c.chunk_id
), gone_vectors AS (
  DELETE FROM knowledge_chunkembedding e WHERE e.chunk_id IN (SELECT chunk_id FROM gone)
)
INSERT INTO knowledge_chunk AS c (chunk_id, doc_id, doc_version, ordinal, title, heading,
  heading_path, anchor, text, content_hash, effective_from, effective_to, search, flagged,
  flag_reason, flag_passage)
SELECT chunk_id, doc_id, doc_version, ordinal, title, heading, heading_path, anchor, text,
       content_hash, effective_from, effective_to,
       setweight(to_tsvector('english', title || ' ' || heading_path), 'A')
         || setweight(to_tsvector('english', text), 'B'),
       flagged, flag_reason, flag_passage
  FROM incoming
ON CONFLICT (chunk_id) DO UPDATE SET doc_version = excluded.doc_version,
  ordinal = excluded.ordinal, title = excluded.title, heading = excluded.heading,
  heading_path = excluded.heading_path, anchor = excluded.anchor, text = excluded.text,
  content_hash = excluded.content_hash, effective_from = excluded.effective_from,
  effective_to = excluded.effective_to, search = excluded.search, flagged = excluded.flagged,
  flag_reason = excluded.flag_reason, flag_passage = excluded.flag_passage
"""


STALE_VECTORS_SQL = """
DELETE FROM knowledge_chunkembedding e USING knowledge_chunk c
 WHERE e.chunk_id = c.chunk_id AND c.doc_id = ANY(%s) AND e.content_hash <> c.content_hash
"""

ANSWERABLE_SQL = """
UPDATE knowledge_article a SET answerable_at = clock_timestamp()
 WHERE a.doc_id = ANY(%s) AND a.answerable_at IS NULL AND NOT a.deleted
   AND NOT EXISTS (
     SELECT 1 FROM knowledge_chunk c
      WHERE c.doc_id = a.doc_id AND NOT EXISTS (
        SELECT 1 FROM knowledge_chunkembedding e JOIN knowledge_embeddingmodel m
          ON m.name = e.model AND m.active WHERE e.chunk_id = c.chunk_id))
"""


STREAMS = [cdc_stream(topic=contract.DOCUMENTS, handle=documents_apply)]
