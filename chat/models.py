"""Conversations and their turns: what was asked, what the model was given, what it answered.

A turn keeps the exact messages sent to the model and the provenance of every fact in them
(record versions, document versions, chunk ids), so staff can see what an answer stood on.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    title = models.CharField(max_length=120)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-updated_at"], name="conversation_recent")]

    def __str__(self) -> str:
        return self.title


class Turn(models.Model):
    class Status(models.TextChoices):
        STREAMING = "streaming"
        ANSWERED = "answered"
        STOPPED = "stopped"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    question = models.TextField()
    answer = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STREAMING)
    # What the traveller is told when the turn failed ...
    error = models.TextField(blank=True)
    # ... and, for staff only, why: upstream error text can quote keys and internal hosts.
    error_detail = models.TextField(blank=True)
    model = models.CharField(max_length=200, blank=True)
    # The messages the model was given, verbatim, for staff.
    prompt = models.JSONField(default=list)
    # The live facts shown beside the answer (cards), as the context had them.
    facts = models.JSONField(default=list)
    sources = models.JSONField(default=list)
    provenance = models.JSONField(default=dict)
    timings_ms = models.JSONField(default=dict)
    tokens = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["conversation", "created_at"], name="turn_order")]

    def __str__(self) -> str:
        return f"{self.question[:60]} ({self.status})"


class Rating(models.Model):
    """A traveller's latest rating of a turn; each one is also published to feedback.events."""

    turn = models.ForeignKey(Turn, on_delete=models.CASCADE, related_name="ratings")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    rating = models.SmallIntegerField()  # 1 helpful, -1 not helpful
    comment = models.TextField(blank=True)
    occurred_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["turn", "user"], name="one_rating_per_user")]

    def __str__(self) -> str:
        return f"{self.turn_id}: {self.rating:+d}"
