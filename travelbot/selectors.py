"""Reads for stream health: state, lag per partition, throughput, freshness, latency, runners,
failures and dead letters. Every figure of every stream comes from a fixed handful of
set-based queries, and lag from the bounded, cached reader (a broker that is down never
blocks a page)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.utils import timezone
from psycopg.rows import dict_row

from travelbot.discovery import app_offers
from travelbot.histogram import percentile_bucket
from travelbot.models import (
    STREAM_LATENCY,
    DeadLetter,
    RunnerHeartbeat,
    StreamBatch,
    StreamFailure,
    StreamOffset,
    StreamState,
)
from travelbot.outbox import outbox_backlog
from travelbot.sql import fetch_all
from travelbot.streams.lag import LAG, LagSnapshot, TopicGroup
from travelbot.streams.registry import StreamSpec, registered_streams

QUANTILES = (0.5, 0.95, 0.99)
FLOWING_WITHIN = timedelta(minutes=1)
RUNNERS_SHOWN_FOR = timedelta(minutes=10)


class State:
    FLOWING = "flowing"
    IDLE = "idle"
    STALLED = "stalled"
    DOWN = "down"
    HALTED = "halted"


@dataclass(frozen=True)
class PartitionLag:
    partition: int
    committed: int | None  # the furthest of the broker's committed offset and Postgres' position
    end: int
    lag: int


@dataclass(frozen=True)
class RunnerView:
    runner_id: str
    hostname: str
    state: str
    alive: bool
    heartbeat_at: datetime
    started_at: datetime
    partitions: list[int]
    failures: int
    last_failure: str
    last_failure_at: datetime | None
    next_retry_at: datetime | None


@dataclass
class StreamStatus:
    name: str
    topic: str
    group: str
    dlq_topic: str
    state: str = State.IDLE
    state_reason: str = ""
    partitions: list[PartitionLag] = field(default_factory=list)
    lag_error: str = ""
    events_per_second: float = 0.0
    freshness_s: float | None = None
    latency_ms: dict[str, float | None] = field(default_factory=dict)
    latency_samples: int = 0
    dead_letters_total: int = 0
    dead_letters_pending: int = 0
    latest_letters: list[DeadLetter] = field(default_factory=list)
    last_batch_at: datetime | None = None
    halted_at: datetime | None = None
    halted_reason: str = ""
    log_reset_at: datetime | None = None
    log_reset_detail: str = ""
    runners: list[RunnerView] = field(default_factory=list)
    recent_failures: list[StreamFailure] = field(default_factory=list)
    failures_total: int = 0

    @property
    def lag_total(self) -> int:
        return sum(p.lag for p in self.partitions)


def stream_statuses(
    *, window: timedelta = timedelta(minutes=5), details: bool = True
) -> list[StreamStatus]:
    """Every registered stream's health. `details` adds the letters and failures a page lists."""
    specs = sorted(registered_streams().values(), key=lambda spec: spec.name)
    statuses = [
        StreamStatus(name=s.name, topic=s.topic, group=s.group, dlq_topic=s.dlq_topic)
        for s in specs
    ]
    now = timezone.now()
    by_name = {status.name: status for status in statuses}
    _fill_progress(by_name, now=now)
    _fill_latency(by_name, since=now - window)
    _fill_dead_letter_counts(by_name)
    _fill_runners(by_name, now=now)
    _fill_lag(statuses, specs)
    if details:
        _fill_latest_letters(by_name)
        _fill_failures(by_name)
    for status in statuses:
        status.state, status.state_reason = _state(status, now=now)
    return statuses


def streams_down(*, names: list[str] | None = None, host: str | None = None) -> dict[str, str]:
    """Streams with no live runner (or halted), with the reason: two queries, no broker.
    With `host`, only that machine's runners count (a worker's own health check)."""
    now = timezone.now()
    wanted = names if names is not None else sorted(registered_streams())
    statuses = {name: StreamStatus(name=name, topic="", group="", dlq_topic="") for name in wanted}
    _fill_runners(statuses, now=now, host=host)
    for halted in StreamState.objects.filter(stream__in=wanted, halted_at__isnull=False):
        statuses[halted.stream].halted_at = halted.halted_at
        statuses[halted.stream].halted_reason = halted.halted_reason
    down = {}
    for name, status in statuses.items():
        state, reason = _liveness(status, now=now)
        if state is not None:
            down[name] = f"{state}: {reason}"
    return down


def _state(status: StreamStatus, *, now: datetime) -> tuple[str, str]:
    state, reason = _liveness(status, now=now)
    if state is not None:
        return state, reason
    alive = [r for r in status.runners if r.alive]
    progress_at = status.last_batch_at or min(r.started_at for r in alive)
    quiet_s = (now - progress_at).total_seconds()
    if status.lag_total > 0 and quiet_s > settings.STREAM_STALL_AFTER_S:
        return State.STALLED, (
            f"{status.lag_total} records waiting and no batch committed for {quiet_s:.0f} s"
        )
    if status.last_batch_at and now - status.last_batch_at <= FLOWING_WITHIN:
        return State.FLOWING, ""
    return State.IDLE, ""


def _working(runner: RunnerView) -> bool:
    """Running, or starting for the first time. A runner starting again after failures has
    not shown it works yet: between two failed tries the stream is down, not idle."""
    starting = runner.state == RunnerHeartbeat.State.STARTING
    return runner.state == RunnerHeartbeat.State.RUNNING or (starting and not runner.failures)


def _liveness(status: StreamStatus, *, now: datetime) -> tuple[str | None, str]:
    """(halted or down, why) or (None, '') when some runner is alive and working."""
    if status.halted_at is not None:
        return State.HALTED, status.halted_reason
    alive = [r for r in status.runners if r.alive]
    if any(_working(r) for r in alive):
        return None, ""
    if alive:
        runner = max(alive, key=lambda r: r.last_failure_at or r.started_at)
        retry = runner.next_retry_at
        if runner.state == RunnerHeartbeat.State.BACKOFF and retry is not None:
            when = f"; next try in {max(0, (retry - now).total_seconds()):.0f} s"
        else:
            when = f"; {runner.state}"
        return State.DOWN, (
            f"restarting after {runner.failures} failure(s): {runner.last_failure}{when}"
        )
    if status.runners:
        last = max(status.runners, key=lambda r: r.heartbeat_at)
        silent_s = (now - last.heartbeat_at).total_seconds()
        detail = f"; last failure: {last.last_failure}" if last.last_failure else ""
        return State.DOWN, f"no heartbeat from {last.runner_id} for {silent_s:.0f} s{detail}"
    return State.DOWN, "no worker runs this stream (see WORKER_STREAMS)"


def _fill_progress(statuses: dict[str, StreamStatus], *, now: datetime) -> None:
    recent = (
        StreamBatch.objects.filter(committed_at__gte=now - timedelta(minutes=1))
        .values("stream")
        .annotate(n=Sum("records"))
    )
    for row in recent:
        if row["stream"] in statuses:
            statuses[row["stream"]].events_per_second = (row["n"] or 0) / 60
    for state in StreamState.objects.filter(stream__in=list(statuses)):
        status = statuses[state.stream]
        status.last_batch_at = state.last_batch_at
        status.halted_at, status.halted_reason = state.halted_at, state.halted_reason
        status.log_reset_at, status.log_reset_detail = state.log_reset_at, state.log_reset_detail
        if state.newest_event_at is not None:
            status.freshness_s = max(0.0, (now - state.newest_event_at).total_seconds())


def _fill_latency(statuses: dict[str, StreamStatus], *, since: datetime) -> None:
    histograms = latency_histograms(since=since)
    for name, status in statuses.items():
        histogram = histograms.get(name) or STREAM_LATENCY.empty()
        status.latency_samples = sum(histogram)
        status.latency_ms = {
            f"p{round(q * 100)}": histogram_quantile(histogram, q) for q in QUANTILES
        }


def latency_histograms(*, since: datetime) -> dict[str, list[int]]:
    """Element-wise sums of every stream's batch latency histograms, in one statement."""
    rows = fetch_all(
        "SELECT b.stream, h.i AS position, sum(h.c) AS count FROM travelbot_streambatch b, "
        "unnest(b.latency_histogram) WITH ORDINALITY AS h(c, i) "
        "WHERE b.committed_at >= %s GROUP BY b.stream, h.i",
        [since],
        row=dict_row,
    )
    sums: dict[str, list[int]] = defaultdict(STREAM_LATENCY.empty)
    for row in rows:  # positions count from 1
        sums[row["stream"]][int(row["position"]) - 1] = int(row["count"])
    return dict(sums)


def histogram_quantile(counts: list[int], quantile: float) -> float | None:
    """The last whole ms of the bucket holding the quantile; inf past the last bucket."""
    bucket = percentile_bucket(counts, quantile)
    return None if bucket is None else STREAM_LATENCY.last_whole_ms(bucket)


def _fill_dead_letter_counts(statuses: dict[str, StreamStatus]) -> None:
    counts = (
        DeadLetter.objects.values("stream")
        .annotate(total=Count("id"), pending=Count("id", filter=Q(replayed_at=None)))
        .order_by()
    )
    for row in counts:
        if row["stream"] in statuses:
            status = statuses[row["stream"]]
            status.dead_letters_total, status.dead_letters_pending = row["total"], row["pending"]


def _fill_latest_letters(statuses: dict[str, StreamStatus], *, per_stream: int = 20) -> None:
    # Only the columns the page shows: a letter's key and value can be megabytes each.
    letters = DeadLetter.objects.raw(
        'SELECT * FROM (SELECT d.id, d.stream, d.partition, d."offset", d.reason, d.created_at, '
        "d.produced_at, d.replayed_at, u.username AS replayed_by_name, row_number() OVER "
        "(PARTITION BY d.stream ORDER BY d.created_at DESC, d.id DESC) AS n "
        "FROM travelbot_deadletter d LEFT JOIN auth_user u ON u.id = d.replayed_by_id) ranked "
        "WHERE n <= %s ORDER BY stream, n",
        [per_stream],
    )
    for letter in letters:
        if letter.stream in statuses:
            statuses[letter.stream].latest_letters.append(letter)


def _fill_failures(statuses: dict[str, StreamStatus], *, per_stream: int = 5) -> None:
    failures = StreamFailure.objects.raw(
        "SELECT * FROM (SELECT f.*, row_number() OVER "
        "(PARTITION BY stream ORDER BY occurred_at DESC, id DESC) AS n, "
        "count(*) OVER (PARTITION BY stream) AS total FROM travelbot_streamfailure f) ranked "
        "WHERE n <= %s ORDER BY stream, n",
        [per_stream],
    )
    for failure in failures:
        if failure.stream in statuses:
            status = statuses[failure.stream]
            status.recent_failures.append(failure)
            status.failures_total = getattr(failure, "total")  # noqa: B009 - a window column


def _fill_runners(
    statuses: dict[str, StreamStatus], *, now: datetime, host: str | None = None
) -> None:
    timeout = timedelta(seconds=settings.STREAM_RUNNER_TIMEOUT_S)
    runners = RunnerHeartbeat.objects.filter(
        stream__in=list(statuses), heartbeat_at__gte=now - RUNNERS_SHOWN_FOR
    ).order_by("stream", "runner_id")
    if host is not None:
        runners = runners.filter(hostname=host)
    for row in runners:
        statuses[row.stream].runners.append(
            RunnerView(
                runner_id=row.runner_id,
                hostname=row.hostname,
                state=row.state,
                alive=row.state != RunnerHeartbeat.State.STOPPED
                and now - row.heartbeat_at <= timeout,
                heartbeat_at=row.heartbeat_at,
                started_at=row.started_at,
                partitions=list(row.partitions),
                failures=row.failures,
                last_failure=row.last_failure,
                last_failure_at=row.last_failure_at,
                next_retry_at=row.next_retry_at,
            )
        )


def _fill_lag(statuses: list[StreamStatus], specs: list[StreamSpec]) -> None:
    snapshot: LagSnapshot = LAG.read(
        [TopicGroup(topic=s.topic, group=s.group) for s in specs],
        servers=list(settings.KAFKA_BOOTSTRAP_SERVERS),
        max_age_s=settings.STREAM_LAG_CACHE_S,
        timeout_s=settings.KAFKA_ADMIN_TIMEOUT_S,
    )
    positions = {
        (row.group, row.topic, row.partition): row.next_offset
        for row in StreamOffset.objects.filter(group__in=[s.group for s in specs])
    }
    for status in statuses:
        status.lag_error = snapshot.error
        status.partitions = [
            _partition_lag(
                p.partition,
                p.committed,
                p.end,
                positions.get((status.group, status.topic, p.partition)),
            )
            for p in snapshot.offsets.get(status.topic, [])
        ]


def _partition_lag(
    partition: int, committed: int | None, end: int, stored: int | None
) -> PartitionLag:
    done = max((o for o in (committed, stored) if o is not None), default=None)
    return PartitionLag(partition=partition, committed=done, end=end, lag=max(0, end - (done or 0)))


class PipelineStatus(Protocol):
    """A part data flows through besides the streams (the outbox relay, an app's work
    queue), as the stream-health page shows it: a card from `card_template` (which reads
    the status as `pipeline`) and, for the status API, `as_json()`."""

    card_template: ClassVar[str]

    def as_json(self) -> dict[str, Any]: ...


def pipelines_status() -> dict[str, PipelineStatus]:
    """The outbox relay, then the pipelines apps offer: `PIPELINES` in their `selectors.py`,
    a reader of the status under each name."""
    pipelines: dict[str, PipelineStatus] = {"outbox": outbox_backlog()}
    for offered in app_offers(module="selectors", attribute="PIPELINES"):
        pipelines.update({name: read() for name, read in offered.items()})
    return pipelines


def pipelines_json(pipelines: dict[str, PipelineStatus]) -> dict[str, Any]:
    return {name: status.as_json() for name, status in pipelines.items()}
