"""Consent to reuse rated conversations, export runs and their per-destination watermarks."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class ExportConsent(models.Model):
    """A traveller's choice; no row means no consent."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="export_consent",
    )
    granted = models.BooleanField(default=False)
    # A later grant must reach destinations whose watermark is already past the turns.
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.user_id}: {'granted' if self.granted else 'withdrawn'}"


class ExportFormat(models.TextChoices):
    JSONL = "jsonl", "fine-tuning JSONL"
    PARQUET = "parquet", "Parquet by date"


class ExportRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    destination = models.CharField(max_length=1000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True)
    # The window of change times this run covers: (since, until].
    since = models.DateTimeField(null=True)
    until = models.DateTimeField(null=True)
    files = models.JSONField(default=list)
    error = models.TextField(blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="export_run_recent")]

    def __str__(self) -> str:
        return f"{self.format} to {self.destination} ({self.status})"


class ExportWatermark(models.Model):
    """Up to when a destination has every exported change of one format."""

    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    destination = models.CharField(max_length=1000)
    exported_through = models.DateTimeField()
    run = models.ForeignKey(ExportRun, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["format", "destination"], name="one_watermark")
        ]

    def __str__(self) -> str:
        return f"{self.format} to {self.destination} through {self.exported_through}"
