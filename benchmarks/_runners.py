"""StreamRunner, instrumented: exact commit times, per-event latencies, where the time goes.

Import only after `_stack.setup()` (it imports Django models). The subclass changes no
behaviour of the runtime: it times the calls it wraps and counts what they did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from harness.streaming import isolated, runtime_config, servers
from travelbot.streams.kafka import make_raw_producer
from travelbot.streams.registry import StreamSpec
from travelbot.streams.runtime import Applied, DecodedBatch, RuntimeConfig, StreamRunner

__all__ = ["isolated", "runtime_config", "servers"]  # the harness's, as the tests use them


def produce(
    topic_records: dict[str, list[tuple[bytes, bytes | None]]], **producer_config: Any
) -> float:
    """Send pre-encoded records (keyed, so per-key order holds); returns the seconds taken."""
    started = time.monotonic()
    producer = make_raw_producer(servers(), **producer_config)
    try:
        for topic, records in topic_records.items():
            for key, value in records:
                producer.send(topic, key=key, value=value)
        producer.flush(timeout=120)
    finally:
        producer.close(timeout=30)
    return time.monotonic() - started


@dataclass
class Timings:
    poll_s: float = 0.0  # inside poll_batch: fetch, CRC, record parsing, waiting for data
    process_s: float = 0.0  # process(): decode + apply + commit offsets + stats
    apply_s: float = 0.0  # handler + dead letters in one transaction, commit included
    record_s: float = 0.0  # the runtime's own per-batch figures (StreamBatch, StreamState)
    offsets_s: float = 0.0  # Kafka offset commit
    batch_sizes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        sizes = self.batch_sizes
        return {
            "poll_s": round(self.poll_s, 3),
            "process_s": round(self.process_s, 3),
            "apply_s": round(self.apply_s, 3),
            "record_stats_s": round(self.record_s, 3),
            "commit_offsets_s": round(self.offsets_s, 3),
            "decode_and_rest_s": round(
                self.process_s - self.apply_s - self.record_s - self.offsets_s, 3
            ),
            "batches": len(sizes),
            "mean_batch": round(sum(sizes) / len(sizes), 1) if sizes else 0,
        }


class BenchRunner(StreamRunner):
    """A StreamRunner that records when it first got records, when each batch committed, the
    (commit time, event times) of every batch if asked, and time spent per phase."""

    def __init__(
        self,
        spec: StreamSpec,
        config: RuntimeConfig,
        *,
        capture_latency: bool = False,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(spec, config, client_id=f"bench-{spec.name}", on_commit=on_commit)
        self.capture_latency = capture_latency
        self.records_done = 0
        self.started_at: float | None = None
        self.first_fetch_at: float | None = None
        self.last_commit_at: float | None = None
        # (commit epoch ms, source_ts_ms of each event of the batch)
        self.commits: list[tuple[float, list[int]]] = []
        self.timings = Timings()

    def run(self) -> None:
        self.started_at = time.monotonic()
        super().run()

    def _make_consumer(self) -> KafkaConsumer:
        consumer = super()._make_consumer()
        poll = consumer.poll

        def timed_poll(*args: Any, **kwargs: Any) -> Any:
            result = poll(*args, **kwargs)
            if result and self.first_fetch_at is None:
                self.first_fetch_at = time.monotonic()
            return result

        consumer.poll = timed_poll  # type: ignore[method-assign]
        return consumer

    def poll_batch(self) -> list[ConsumerRecord]:
        started = time.monotonic()
        records = super().poll_batch()
        if records:
            self.timings.poll_s += time.monotonic() - started
        return records

    def process(self, records: list[ConsumerRecord]) -> None:
        started = time.monotonic()
        super().process(records)
        self.timings.process_s += time.monotonic() - started
        self.timings.batch_sizes.append(len(records))

    def _apply_with_retry(self, batch: DecodedBatch) -> Applied:
        started = time.monotonic()
        applied = super()._apply_with_retry(batch)
        committed_ms = time.time() * 1000  # the Postgres transaction has just committed
        self.timings.apply_s += time.monotonic() - started
        if self.capture_latency:
            self.commits.append((committed_ms, [event.source_ts_ms for event in batch.events]))
        return applied

    def _commit_offsets(self, batch: DecodedBatch) -> None:
        started = time.monotonic()
        super()._commit_offsets(batch)
        now = time.monotonic()
        self.timings.offsets_s += now - started
        self.records_done += len(batch.records)
        self.last_commit_at = now

    def _record_batch(self, *args: Any, **kwargs: Any) -> None:
        started = time.monotonic()
        super()._record_batch(*args, **kwargs)
        self.timings.record_s += time.monotonic() - started


class RunnerThreads:
    """Several runners in threads of this process, as a Celery worker runs them."""

    def __init__(self, runners: list[BenchRunner]) -> None:
        self.runners = runners
        self.errors: dict[str, BaseException] = {}
        self.threads = [
            threading.Thread(
                target=self._run, args=(runner,), daemon=True, name=f"runner-{runner.spec.name}"
            )
            for runner in runners
        ]

    def _run(self, runner: BenchRunner) -> None:
        try:
            runner.run()
        except BaseException as exc:  # noqa: BLE001 - reported by the benchmark
            self.errors[runner.spec.name] = exc

    def start(self) -> RunnerThreads:
        for thread in self.threads:
            thread.start()
        return self

    def stop(self) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout=30)

    def __enter__(self) -> RunnerThreads:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def table_state(table: str) -> tuple[int, int, int]:
    """(rows including delete markers, delete markers, sum of versions) of one inventory table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(*) FILTER (WHERE deleted), "
            f"coalesce(sum(version), 0) FROM {table}"
        )
        rows, deleted, version_sum = cursor.fetchone()
    return int(rows), int(deleted), int(version_sum)
