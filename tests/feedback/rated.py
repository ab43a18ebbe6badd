"""Rated chat turns as the chat stores them, for the dashboard, blame and label tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from chat.models import Conversation, Rating, Turn


def rated_turn(
    user: User,
    *,
    rating: int = -1,
    comment: str = "",
    provenance: dict[str, Any] | None = None,
    question: str = "How much is a bag to New York?",
    at: datetime | None = None,
) -> Rating:
    conversation = Conversation.objects.create(user=user, title=question[:80])
    turn = Turn.objects.create(
        conversation=conversation,
        question=question,
        answer="A bag costs 35 GBP.",
        status=Turn.Status.ANSWERED,
        provenance=provenance or {},
    )
    return Rating.objects.create(
        turn=turn, user=user, rating=rating, comment=comment, occurred_at=at or timezone.now()
    )


def cited(
    *documents: tuple[str, list[str]], inventory: Sequence[tuple[str, str]] = ()
) -> dict[str, Any]:
    """A turn's provenance citing (doc_id, chunk ids) and (kind, id) inventory records."""
    return {
        "profile_records": [],
        "inventory": [{"kind": kind, "id": id_, "version": 1} for kind, id_ in inventory],
        "documents": [
            {"doc_id": doc_id, "version": 1, "chunk_ids": chunks} for doc_id, chunks in documents
        ],
        "ungrounded_numbers": [],
    }
