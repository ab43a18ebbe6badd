"""What the chat forgets when a traveller is erased: everything they said and rated."""

from __future__ import annotations

from chat.models import Conversation, Rating
from profiles.privacy import Erasure


def chat_data_erase(erasure: Erasure) -> int:
    """Erasure hook: the erased travellers' conversations (with their turns and every rating
    of them) and their ratings of anything else."""
    ratings, _ = Rating.objects.filter(user_id__in=erasure.user_ids).delete()
    conversations, _ = Conversation.objects.filter(user_id__in=erasure.user_ids).delete()
    return ratings + conversations


ERASURE_HOOK = chat_data_erase
