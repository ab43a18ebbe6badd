"""The editor's writes. Each save, delete or restore writes the document, a revision and an
outbox event in one transaction; the relay publishes the event to `knowledge.documents`
exactly as an external CMS would, and the pipeline does the rest. A save made while the
broker is down is delivered when it is back. Approving a flagged chunk lets the assistant
retrieve its text."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from knowledge.models import Chunk, ChunkApproval, Document, Revision
from travelbot.outbox import outbox_add
from travelbot.streams.envelope import make_change
from travelbot.timefmt import iso_z

SYSTEM, TABLE, TOPIC = "travelbot-editor", "documents", "knowledge.documents"


@dataclass(frozen=True)
class DocumentInput:
    doc_id: str
    title: str
    body: str
    tags: list[str]
    effective_from: date | None
    effective_to: date | None

    def same_as(self, document: Document) -> bool:
        return (
            not document.deleted
            and (document.title, document.body, list(document.tags))
            == (self.title, self.body, self.tags)
            and (document.effective_from, document.effective_to)
            == (self.effective_from, self.effective_to)
        )


def _next_lsn(doc_id: str) -> int:
    """Strictly increasing per document: wall-clock microseconds, above the last one."""
    last = (
        Revision.objects.filter(doc_id=doc_id)
        .order_by("-version")
        .values_list("published_lsn", flat=True)
    )
    return max((last.first() or 0) + 1, time.time_ns() // 1000)


@transaction.atomic
def document_save(*, data: DocumentInput, by: User | None) -> Revision:
    document = Document.objects.select_for_update().filter(pk=data.doc_id).first()
    now = timezone.now()
    if document is None:
        document = Document(doc_id=data.doc_id)
    document.title, document.body, document.tags = data.title, data.body, data.tags
    document.effective_from, document.effective_to = data.effective_from, data.effective_to
    document.deleted, document.updated_at, document.updated_by = False, now, by
    document.version += 1
    document.save()
    revision = _revision(document, by=by, deleted=False)
    _publish(document, revision, op="u" if document.version > 1 else "c")
    return revision


@transaction.atomic
def document_delete(*, doc_id: str, by: User | None) -> Revision | None:
    document = Document.objects.select_for_update().filter(pk=doc_id, deleted=False).first()
    if document is None:
        return None
    document.deleted, document.updated_at, document.updated_by = True, timezone.now(), by
    document.version += 1
    document.save()
    revision = _revision(document, by=by, deleted=True)
    _publish(document, revision, op="d")
    return revision


def document_restore(*, doc_id: str, version: int, by: User | None) -> Revision:
    """Save an earlier version's content again, as the newest version."""
    old = Revision.objects.get(doc_id=doc_id, version=version)
    return document_save(
        data=DocumentInput(
            doc_id=doc_id,
            title=old.title,
            body=old.body,
            tags=list(old.tags),
            effective_from=old.effective_from,
            effective_to=old.effective_to,
        ),
        by=by,
    )


def _revision(document: Document, *, by: User | None, deleted: bool) -> Revision:
    return Revision.objects.create(
        doc_id=document.doc_id,
        version=document.version,
        title=document.title,
        body=document.body,
        tags=document.tags,
        effective_from=document.effective_from,
        effective_to=document.effective_to,
        deleted=deleted,
        saved_at=document.updated_at,
        saved_by=by,
        published_lsn=_next_lsn(document.doc_id),
    )


def document_row(document: Document) -> dict[str, Any]:
    """The contract's `knowledge.documents` row of a document."""
    return {
        "doc_id": document.doc_id,
        "title": document.title,
        "body": document.body,
        "tags": list(document.tags),
        "effective_from": document.effective_from.isoformat() if document.effective_from else None,
        "effective_to": document.effective_to.isoformat() if document.effective_to else None,
        "updated_at": iso_z(document.updated_at),
    }


def _publish(document: Document, revision: Revision, *, op: str) -> None:
    row = document_row(document)
    now_ms = int(document.updated_at.timestamp() * 1000)
    outbox_add(
        topic=TOPIC,
        key={"doc_id": document.doc_id},
        value=make_change(
            op=op,
            after=None if op == "d" else row,
            before=row if op == "d" else None,
            system=SYSTEM,
            table=TABLE,
            lsn=revision.published_lsn,
            source_ts_ms=now_ms,
            ts_ms=now_ms,
        ),
    )


def chunk_approve(*, chunk_id: str, content_hash: str, by: User | None) -> ChunkApproval | None:
    """Approve a flagged chunk's text as the admin saw it (`content_hash`); None when the
    chunk is gone, not flagged, or its text changed since (the admin has not read that)."""
    chunk = Chunk.objects.filter(chunk_id=chunk_id, content_hash=content_hash, flagged=True).first()
    if chunk is None:
        return None
    approval, _ = ChunkApproval.objects.get_or_create(
        doc_id=chunk.doc_id,
        content_hash=chunk.content_hash,
        defaults={"chunk_id": chunk.chunk_id, "approved_at": timezone.now(), "approved_by": by},
    )
    return approval


def chunk_approval_withdraw(*, doc_id: str, content_hash: str) -> bool:
    """The assistant stops retrieving that text again; False if it was not approved."""
    deleted, _ = ChunkApproval.objects.filter(doc_id=doc_id, content_hash=content_hash).delete()
    return bool(deleted)
