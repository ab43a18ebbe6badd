"""What feedback analytics forgets when a traveller is erased: the words of their comments.

The windows keep their counts (they hold no one's data); the ledgers keep event ids so that
a redelivered event still counts once, but no comment text of an erased traveller."""

from __future__ import annotations

from feedback.models import RatingEvent
from profiles.privacy import Erasure


def feedback_comments_erase(erasure: Erasure) -> int:
    """Erasure hook: blank the erased travellers' comments in the ratings ledger."""
    users = [str(user_id) for user_id in erasure.user_ids]
    return RatingEvent.objects.filter(user_id__in=users).exclude(comment="").update(comment="")


ERASURE_HOOK = feedback_comments_erase
