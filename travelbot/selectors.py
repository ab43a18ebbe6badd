"""Reads for stream health: lag per partition, throughput, freshness, latency, dead letters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone
from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError

from travelbot.models import LATENCY_BUCKETS_MS, DeadLetter, StreamBatch, StreamState
from travelbot.streams.kafka import make_admin
from travelbot.streams.registry import StreamSpec, registered_streams

QUANTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None
    end: int
    lag: int


@dataclass
class StreamStatus:
    name: str
    topic: str
    group: str
    dlq_topic: str
    partitions: list[PartitionLag] = field(default_factory=list)
    lag_error: str = ""
    events_per_second: float = 0.0
    freshness_s: float | None = None
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    latency_samples: int = 0
    dead_letters_total: int = 0
    dead_letters_pending: int = 0
    latest_reasons: list[DeadLetter] = field(default_factory=list)
    last_batch_at: datetime | None = None
    halted_reason: str = ""

    @property
    def lag_total(self) -> int:
        return sum(p.lag for p in self.partitions)


def stream_statuses(*, window: timedelta = timedelta(minutes=5)) -> list[StreamStatus]:
    specs = sorted(registered_streams().values(), key=lambda spec: spec.name)
    statuses = [
        StreamStatus(name=s.name, topic=s.topic, group=s.group, dlq_topic=s.dlq_topic)
        for s in specs
    ]
    _fill_lag(statuses, specs)
    for status in statuses:
        _fill_figures(status, window=window)
    return statuses


def _fill_figures(status: StreamStatus, *, window: timedelta) -> None:
    now = timezone.now()
    recent = StreamBatch.objects.filter(
        stream=status.name, committed_at__gte=now - timedelta(minutes=1)
    )
    status.events_per_second = (recent.aggregate(n=Sum("records"))["n"] or 0) / 60
    histogram = latency_histogram_sum(stream=status.name, since=now - window)
    status.latency_samples = sum(histogram)
    status.latency_ms = {f"p{round(q * 100)}": histogram_quantile(histogram, q) for q in QUANTILES}
    letters = DeadLetter.objects.filter(stream=status.name)
    counts = letters.aggregate(total=Count("id"), pending=Count("id", filter=Q(replayed_at=None)))
    status.dead_letters_total, status.dead_letters_pending = counts["total"], counts["pending"]
    status.latest_reasons = list(letters.order_by("-created_at", "-id")[:5])
    state = StreamState.objects.filter(stream=status.name).first()
    if state is not None:
        status.last_batch_at = state.last_batch_at
        status.halted_reason = state.halted_reason
        if state.newest_event_at is not None:
            status.freshness_s = max(0.0, (now - state.newest_event_at).total_seconds())


def latency_histogram_sum(*, stream: str, since: datetime) -> list[int]:
    """Element-wise sum of the batches' latency histograms, in one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT h.i, sum(h.c) FROM travelbot_streambatch b, "
            "unnest(b.latency_histogram) WITH ORDINALITY AS h(c, i) "
            "WHERE b.stream = %s AND b.committed_at >= %s GROUP BY h.i ORDER BY h.i",
            [stream, since],
        )
        rows = cursor.fetchall()
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for index, count in rows:
        counts[int(index) - 1] = int(count)
    return counts


def histogram_quantile(counts: list[int], quantile: float) -> float | None:
    """The upper bound (ms) of the bucket holding the quantile; inf past the last bucket."""
    total = sum(counts)
    if total == 0:
        return None
    rank, seen = quantile * total, 0
    for index, count in enumerate(counts):
        seen += count
        if seen >= rank and count:
            return (
                float(LATENCY_BUCKETS_MS[index])
                if index < len(LATENCY_BUCKETS_MS)
                else float("inf")
            )
    return float("inf")


def _fill_lag(statuses: list[StreamStatus], specs: list[StreamSpec]) -> None:
    try:
        admin = make_admin(list(settings.KAFKA_BOOTSTRAP_SERVERS))
    except KafkaError as exc:
        for status in statuses:
            status.lag_error = f"broker unreachable: {exc}"
        return
    try:
        for status, spec in zip(statuses, specs, strict=True):
            try:
                status.partitions = partition_lag(admin, spec)
            except KafkaError as exc:
                status.lag_error = str(exc) or type(exc).__name__
    finally:
        admin.close()


def partition_lag(admin: KafkaAdminClient, spec: StreamSpec) -> list[PartitionLag]:
    """Committed offset vs end offset per partition (a lower bound on tansu, exact on Kafka)."""
    topics = admin.describe_topics([spec.topic])
    partitions = [
        TopicPartition(spec.topic, p["partition_index"])
        for t in topics
        if t.get("error_code", 0) == 0
        for p in t.get("partitions", [])
    ]
    if not partitions:
        return []
    ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
    committed = admin.list_group_offsets({spec.group: partitions}).get(spec.group, {})
    lags = []
    for tp in sorted(partitions, key=lambda tp: tp.partition):
        end = int(getattr(ends[tp], "offset", ends[tp]))
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else None
        lags.append(
            PartitionLag(
                partition=tp.partition, committed=done, end=end, lag=max(0, end - (done or 0))
            )
        )
    return lags
