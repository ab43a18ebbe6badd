"""Feedback analytics: what the feedback.events and chat.turns streams delivered, and the
event-time KPI windows maintained from them batch by batch (feedback.services).

The two ledgers keep every event id a stream has received, so a redelivered event is never
counted twice, and mark the events that arrived too late to count (see `StreamWatermark`).
Ids are the contract's strings; no foreign keys, since the topics are not ordered relative to
each other or to the chat's own tables.
"""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from feedback.windows import BUCKETS, Granularity


class TurnEvent(models.Model):
    """A chat.turns event as received; `late` ones are counted as dropped and nowhere else."""

    event_id = models.CharField(max_length=64, primary_key=True)
    conversation_id = models.CharField(max_length=64)
    turn_id = models.CharField(max_length=64)
    user_id = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    status = models.CharField(max_length=10)
    first_token_ms = models.IntegerField(null=True)
    total_ms = models.IntegerField(null=True)
    tokens_in = models.IntegerField()
    tokens_out = models.IntegerField()
    late = models.BooleanField()
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["occurred_at"], condition=models.Q(late=True), name="turnevent_late"
            )
        ]

    def __str__(self) -> str:
        return f"turn event {self.event_id}"


class RatingEvent(models.Model):
    """A feedback.events event as received; `late` ones are counted as dropped and nowhere
    else. An empty comment means none."""

    event_id = models.CharField(max_length=64, primary_key=True)
    conversation_id = models.CharField(max_length=64)
    turn_id = models.CharField(max_length=64)
    user_id = models.CharField(max_length=64)
    rating = models.SmallIntegerField()
    comment = models.TextField(blank=True, default="")
    occurred_at = models.DateTimeField()
    late = models.BooleanField()
    received_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                fields=["occurred_at"], condition=models.Q(late=True), name="ratingevent_late"
            )
        ]

    def __str__(self) -> str:
        return f"rating event {self.event_id}"


class Rating(models.Model):
    """The rating a user's turn counts with: the accepted event of that turn and user with the
    latest `occurred_at` (then the greatest `event_id`, so ties resolve the same in any
    arrival order)."""

    pk = models.CompositePrimaryKey("turn_id", "user_id")
    turn_id = models.CharField(max_length=64)
    user_id = models.CharField(max_length=64)
    event_id = models.CharField(max_length=64)
    rating = models.SmallIntegerField()
    commented = models.BooleanField()
    occurred_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"rating {self.rating:+d} of turn {self.turn_id} by {self.user_id}"


class ConversationStart(models.Model):
    """When a conversation began: the earliest accepted turn of it seen so far."""

    conversation_id = models.CharField(max_length=64, primary_key=True)
    first_turn_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"conversation {self.conversation_id} from {self.first_turn_at:%Y-%m-%d %H:%M}"


class StreamWatermark(models.Model):
    """The newest `occurred_at` a stream has delivered. An event older than this minus
    FEEDBACK_ALLOWED_LATENESS when it arrives is late: it changes no window."""

    stream = models.CharField(max_length=100, primary_key=True)
    newest_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.stream} up to {self.newest_at:%Y-%m-%d %H:%M:%S}"


def _cumulative_rank(cumulative: str, quantile: float) -> models.Func:
    """The bucket holding the nearest-rank quantile (SQL function in migration 0001)."""
    return models.Func(
        models.F(cumulative),
        models.Value(quantile),
        function="feedback_cumulative_rank",
        output_field=models.SmallIntegerField(),
    )


def _percentile_bucket(cumulative: str, quantile: float) -> models.GeneratedField:
    # Stored: recomputed by Postgres (a binary search) whenever the row changes, so reading
    # any number of windows costs nothing more than the columns.
    return models.GeneratedField(
        expression=_cumulative_rank(cumulative, quantile),
        output_field=models.SmallIntegerField(null=True),
        db_persist=True,
    )


class KpiWindow(models.Model):
    """The KPIs of one UTC minute, hour or day, by event time. Counters and latency histograms
    (cumulative counts per bucket, see feedback.windows) are sums of contributions, added batch
    by batch; a window nobody touched has no row. Percentiles are bucket numbers (None: no
    latencies in the window)."""

    pk = models.CompositePrimaryKey("granularity", "starts_at")
    granularity = models.CharField(max_length=6, choices=[(g.value, g.value) for g in Granularity])
    starts_at = models.DateTimeField()
    conversations = models.IntegerField(default=0)
    turns = models.IntegerField(default=0)
    ratings = models.IntegerField(default=0)
    helpful = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    late_dropped = models.IntegerField(default=0)
    first_token_cumulative = ArrayField(models.IntegerField(), size=BUCKETS)
    total_time_cumulative = ArrayField(models.IntegerField(), size=BUCKETS)
    first_token_p50_bucket = _percentile_bucket("first_token_cumulative", 0.5)
    first_token_p95_bucket = _percentile_bucket("first_token_cumulative", 0.95)
    total_time_p50_bucket = _percentile_bucket("total_time_cumulative", 0.5)
    total_time_p95_bucket = _percentile_bucket("total_time_cumulative", 0.95)

    def __str__(self) -> str:
        return f"{self.granularity} from {self.starts_at:%Y-%m-%d %H:%M}"


class CommentLabel(models.Model):
    """What a traveller's rating comment is about and how it sounds, as the model read it.

    One per chat rating; `comment` is the text that was (or is to be) classified, so a rating
    whose comment changed is classified again and an unchanged one never is."""

    class Sentiment(models.TextChoices):
        POSITIVE = "positive"
        NEUTRAL = "neutral"
        NEGATIVE = "negative"

    class Topic(models.TextChoices):
        PRICES = "prices"
        FLIGHT_INFO = "flight_info", "flight info"
        HOTELS = "hotels"
        BAGGAGE = "baggage"
        REFUNDS = "refunds"
        ACCOUNT = "account"
        OTHER = "other"

    class Status(models.TextChoices):
        PENDING = "pending"
        DONE = "done"
        FAILED = "failed"

    rating = models.OneToOneField(
        "chat.Rating", on_delete=models.CASCADE, primary_key=True, related_name="label"
    )
    comment = models.TextField()
    sentiment = models.CharField(max_length=8, choices=Sentiment.choices, blank=True)
    topic = models.CharField(max_length=12, choices=Topic.choices, blank=True)
    status = models.CharField(max_length=7, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["topic", "sentiment"], name="commentlabel_topic")]

    def __str__(self) -> str:
        return f"rating {self.rating_id}: {self.status} {self.topic} {self.sentiment}".strip()
