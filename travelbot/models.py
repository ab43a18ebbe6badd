"""What the stream runtime remembers: per-batch figures, stream and runner state, positions,
failures and dead letters."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from travelbot.histogram import LogBuckets

# The buckets of StreamBatch.latency_histogram (source to commit): each ends on a whole ms
# about 12% past the last, so a percentile read from it is within about 12% of the exact value.
STREAM_LATENCY = LogBuckets(base=1.12, steps=1, count=110, whole_ms=True)


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
    """What is true of a stream as a whole: progress, a halt and its resumption, a log reset."""

    class ResumeMode(models.TextChoices):
        RETRY = "retry", "Retry the batch"
        DEAD_LETTER = "dead_letter", "Dead-letter the batch's poison and go on"

    stream = models.CharField(max_length=100, primary_key=True)
    last_batch_at = models.DateTimeField(null=True)
    newest_event_at = models.DateTimeField(null=True)
    halted_at = models.DateTimeField(null=True)
    halted_reason = models.TextField(blank=True)
    resumed_at = models.DateTimeField(null=True)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resume_mode = models.CharField(max_length=20, choices=ResumeMode.choices, blank=True)
    log_reset_at = models.DateTimeField(null=True)
    log_reset_detail = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.stream} ({'halted' if self.halted_at else 'running'})"


class RunnerHeartbeat(models.Model):
    """One stream runner in one worker: alive means a recent heartbeat (its last poll)."""

    class State(models.TextChoices):
        STARTING = "starting"
        RUNNING = "running"
        # restarted after a failure; running again once it commits a batch or survives a while
        RECOVERING = "recovering"
        BACKOFF = "backoff"  # failed; restarts at next_retry_at
        HALTED = "halted"  # waits for staff to resume the stream
        STOPPED = "stopped"  # shut down cleanly

    runner_id = models.CharField(max_length=255, primary_key=True)
    stream = models.CharField(max_length=100)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    state = models.CharField(max_length=10, choices=State.choices)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField()
    last_progress_at = models.DateTimeField(null=True)
    partitions = ArrayField(models.IntegerField(), default=list)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField(null=True)
    last_failure = models.TextField(blank=True)
    next_retry_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [models.Index(fields=["stream", "-heartbeat_at"])]

    def __str__(self) -> str:
        return f"{self.runner_id} ({self.state})"


class StreamFailure(models.Model):
    """A runner that stopped with an error and was restarted: when, what, the how-many-th."""

    stream = models.CharField(max_length=100)
    runner_id = models.CharField(max_length=255)
    occurred_at = models.DateTimeField()
    exception = models.CharField(max_length=200)
    message = models.TextField()
    count = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["stream", "-occurred_at"])]

    def __str__(self) -> str:
        return f"{self.stream} failure #{self.count}: {self.exception}"


class StreamOffset(models.Model):
    """The next offset to read per partition, committed in the same transaction as the data.

    `fingerprint` identifies the last record applied: if the broker no longer holds that
    record at that offset, its log was reset (or recreated) and is read again from the start.
    """

    group = models.CharField(max_length=255)
    topic = models.CharField(max_length=255)
    partition = models.IntegerField()
    next_offset = models.BigIntegerField()
    fingerprint = models.BigIntegerField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "topic", "partition"], name="stream_offset_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.group} {self.topic}[{self.partition}] -> {self.next_offset}"


class DeadLetter(models.Model):
    """A poison record, kept for staff to read and replay after a fix, and the outbox of its
    copy on <topic>.dlq (`produced_at` is set once the broker acknowledged it).

    A record is identified by its position and its fingerprint: after a broker's log is reset
    a new record can reuse an old offset, and must not be mistaken for the old one.
    """

    stream = models.CharField(max_length=100)
    topic = models.CharField(max_length=200)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    fingerprint = models.BigIntegerField(default=0)
    key = models.BinaryField(null=True)
    value = models.BinaryField(null=True)
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    produced_at = models.DateTimeField(null=True)
    replayed_at = models.DateTimeField(null=True)
    replayed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["stream", "-created_at"]),
            models.Index(
                fields=["stream"],
                name="dead_letter_unproduced",
                condition=models.Q(produced_at=None),
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "partition", "offset", "fingerprint"], name="dead_letter_once"
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


class OutboxMessage(models.Model):
    """An event to publish, written in the same transaction as the change it describes.

    The relay publishes pending messages in id order and marks them; a message whose publish
    failed stays pending (with the error) and is tried again, so a save made while the
    broker is down is delivered when it is back. Consumers apply versions, so a message
    published twice changes nothing the second time.
    """

    topic = models.CharField(max_length=200)
    key = models.JSONField()
    value = models.JSONField(null=True)  # None: a tombstone
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["id"], name="outbox_pending", condition=models.Q(published_at=None)
            )
        ]

    def __str__(self) -> str:
        state = "published" if self.published_at else "pending"
        return f"{self.topic} #{self.pk} ({state})"
