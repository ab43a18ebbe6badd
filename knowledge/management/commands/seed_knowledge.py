"""Load the seed corpus through the pipeline: saved like an admin's edits (outbox, relay,
stream, chunks, embeddings). Documents already saved with the same content are left alone."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from knowledge.models import Document
from knowledge.seed import seed_documents
from knowledge.services import document_save


class Command(BaseCommand):
    help = "Save the help articles of knowledge/seed/ that are new or changed."

    def handle(self, *args: Any, **options: Any) -> None:
        saved = 0
        documents = seed_documents()
        existing = Document.objects.in_bulk([d.doc_id for d in documents])
        for data in documents:
            current = existing.get(data.doc_id)
            if current is None or not data.same_as(current):
                document_save(data=data, by=None)
                saved += 1
        self.stdout.write(f"{saved} of {len(documents)} seed articles saved")
