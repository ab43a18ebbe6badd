from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from chat.models import Conversation, Turn

RECENT_CONVERSATIONS = 30


def conversations_of(user: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(user=user).order_by("-updated_at")[:RECENT_CONVERSATIONS]


def conversation_turns(conversation: Conversation) -> QuerySet[Turn]:
    return Turn.objects.filter(conversation=conversation).order_by("created_at")
