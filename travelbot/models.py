"""What the stream runtime remembers: per-batch figures, stream state and dead letters."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

# Upper bounds (ms) of the source-to-commit latency histogram: roughly 12% apart,
# so a percentile read from it is within about 12% of the exact value.
LATENCY_BUCKETS_MS: tuple[int, ...] = tuple(sorted({round(1.12**i) for i in range(0, 110)} | {0}))[
    1:
]


class StreamBatch(models.Model):
    """One committed batch: the source of throughput, freshness and latency figures."""

    stream = models.CharField(max_length=100)
    committed_at = models.DateTimeField()
    records = models.PositiveIntegerField()
    applied = models.PositiveIntegerField()
    skipped = models.PositiveIntegerField()
    dead_lettered = models.PositiveIntegerField()
    newest_event_at = models.DateTimeField(null=True)
    latency_histogram = ArrayField(models.IntegerField(), default=list)
    duration_ms = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["stream", "-committed_at"])]

    def __str__(self) -> str:
        return f"{self.stream} batch of {self.records} at {self.committed_at.isoformat()}"


class StreamState(models.Model):
    """The latest word from a stream's worker: alive, halted, and why."""

    stream = models.CharField(max_length=100, primary_key=True)
    last_batch_at = models.DateTimeField(null=True)
    newest_event_at = models.DateTimeField(null=True)
    halted_at = models.DateTimeField(null=True)
    halted_reason = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stream} ({'halted' if self.halted_at else 'running'})"


class DeadLetter(models.Model):
    """A poison record, kept for staff to read and replay after a fix (also sent to <topic>.dlq)."""

    stream = models.CharField(max_length=100)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.BinaryField(null=True)
    value = models.BinaryField(null=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["stream", "-created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "partition", "offset"], name="dead_letter_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}: {self.reason[:80]}"

    def key_text(self) -> str:
        return _as_text(self.key)

    def value_text(self) -> str:
        return _as_text(self.value)


def _as_text(raw: bytes | memoryview | None) -> str:
    if raw is None:
        return "null"
    return bytes(raw).decode("utf-8", errors="replace")
