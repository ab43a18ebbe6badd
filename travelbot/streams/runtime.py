"""The stream runtime: poll a batch, decode, apply in one transaction, then commit offsets.

Semantics follow Sentry's arroyo on kafka-python:
- a batch closes at `max_records` or `max_wait_ms` after its first record;
- decode failures are poison: stored as dead letters in the same transaction as
  the batch and produced to `<topic>.dlq`, unless so many fail that the code,
  not the data, must be broken; then the stream halts without committing;
- offsets are committed only after the Postgres transaction has committed;
- a database outage is waited out by retrying the same batch, never skipping it;
- stop() (SIGTERM) lets the current batch finish and commit before closing.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.utils import DataError, IntegrityError, InterfaceError, OperationalError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError, KafkaError
from kafka.structs import OffsetAndMetadata

from travelbot.models import LATENCY_BUCKETS_MS
from travelbot.services import dead_letters_store, stream_batch_record, stream_halt_record
from travelbot.streams.envelope import PoisonRecord
from travelbot.streams.kafka import make_raw_producer
from travelbot.streams.registry import StreamSpec

logger = logging.getLogger(__name__)


class StreamHalted(RuntimeError):
    """Too many poison records in one batch: the handler or the contract is broken."""


class StreamStopped(Exception):
    """Stop was requested while a batch could not be applied; its offsets stay uncommitted."""


@dataclass(frozen=True)
class RuntimeConfig:
    bootstrap_servers: list[str]
    max_records: int = 5000
    max_wait_ms: int = 100
    fetch_max_wait_ms: int = 100
    idle_poll_ms: int = 500
    poison_max_ratio: float = 0.5
    poison_min_records: int = 20
    session_timeout_ms: int = 6000
    db_retry_initial_s: float = 0.2
    db_retry_max_s: float = 5.0

    @classmethod
    def from_settings(cls) -> RuntimeConfig:
        return cls(
            bootstrap_servers=list(settings.KAFKA_BOOTSTRAP_SERVERS),
            max_records=settings.STREAM_BATCH_MAX_RECORDS,
            max_wait_ms=settings.STREAM_BATCH_MAX_WAIT_MS,
            fetch_max_wait_ms=settings.STREAM_FETCH_MAX_WAIT_MS,
            poison_max_ratio=settings.STREAM_POISON_MAX_RATIO,
            poison_min_records=settings.STREAM_POISON_MIN_RECORDS,
            session_timeout_ms=settings.KAFKA_SESSION_TIMEOUT_MS,
        )


@dataclass
class DecodedBatch:
    records: list[ConsumerRecord]
    events: list[Any] = field(default_factory=list)
    sources: list[ConsumerRecord] = field(default_factory=list)  # the record of each event
    poison: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    skipped: int = 0

    def next_offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        offsets: dict[TopicPartition, int] = {}
        for record in self.records:
            partition = TopicPartition(record.topic, record.partition)
            offsets[partition] = max(offsets.get(partition, -1), record.offset + 1)
        return {tp: OffsetAndMetadata(offset, "", -1) for tp, offset in offsets.items()}


def decode_batch(spec: StreamSpec, records: list[ConsumerRecord]) -> DecodedBatch:
    batch = DecodedBatch(records=records)
    for record in records:
        try:
            event = spec.decode(record.key, record.value)
        except PoisonRecord as exc:
            batch.poison.append((record, str(exc)))
            continue
        if event is None:
            batch.skipped += 1
        else:
            batch.events.append(event)
            batch.sources.append(record)
    return batch


def latency_histogram(event_times_ms: list[int], committed_ms: int) -> list[int]:
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for event_ms in event_times_ms:
        counts[bisect.bisect_left(LATENCY_BUCKETS_MS, max(0, committed_ms - event_ms))] += 1
    return counts


class StreamRunner:
    """Consumes one registered stream until stopped. One runner per thread or process."""

    def __init__(self, spec: StreamSpec, config: RuntimeConfig, *, client_id: str = "") -> None:
        self.spec = spec
        self.config = config
        self.client_id = client_id or f"travelbot-{spec.name}"
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self.batches_committed = 0

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        self._consumer = self._make_consumer()
        self._producer = make_raw_producer(self.config.bootstrap_servers)
        logger.info(
            "stream %s: consuming %s as group %s", self.spec.name, self.spec.topic, self.spec.group
        )
        try:
            while not self.stopping:
                records = self.poll_batch()
                if records:
                    self.process(records)
        except StreamStopped:
            logger.info("stream %s: stopped during a database outage", self.spec.name)
        except StreamHalted as exc:
            logger.error("stream %s halted: %s", self.spec.name, exc)
            self._record_halt(str(exc))
            raise
        finally:
            self._close()

    def _make_consumer(self) -> KafkaConsumer:
        return KafkaConsumer(
            self.spec.topic,
            bootstrap_servers=self.config.bootstrap_servers,
            group_id=self.spec.group,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=max(500, self.config.session_timeout_ms // 3),
            max_poll_interval_ms=600_000,
            max_poll_records=self.config.max_records,
            fetch_max_wait_ms=self.config.fetch_max_wait_ms,
            fetch_max_bytes=64 * 1024 * 1024,
            max_partition_fetch_bytes=16 * 1024 * 1024,
        )

    def poll_batch(self) -> list[ConsumerRecord]:
        """Block up to idle_poll_ms for a first record, then fill the batch by size or time."""
        assert self._consumer is not None
        records: list[ConsumerRecord] = []
        deadline: float | None = None
        timeout_ms = self.config.idle_poll_ms
        while len(records) < self.config.max_records and not self.stopping:
            polled = self._consumer.poll(
                timeout_ms=timeout_ms, max_records=self.config.max_records - len(records)
            )
            for partition_records in polled.values():
                records.extend(partition_records)
            if not records:
                return records
            if deadline is None:
                deadline = time.monotonic() + self.config.max_wait_ms / 1000
            timeout_ms = int((deadline - time.monotonic()) * 1000)
            if timeout_ms <= 0:
                break
        return records

    def process(self, records: list[ConsumerRecord]) -> None:
        started = time.monotonic()
        batch = decode_batch(self.spec, records)
        self._check_poison_ratio(batch)
        applied = self._apply_with_retry(batch)
        committed_ms = int(time.time() * 1000)
        self._produce_dead_letters(batch)
        self._commit_offsets(batch)
        self.batches_committed += 1
        self._record_batch(batch, applied, committed_ms, started)

    def _check_poison_ratio(self, batch: DecodedBatch) -> None:
        total = len(batch.records)
        if (
            total >= self.config.poison_min_records
            and len(batch.poison) / total > self.config.poison_max_ratio
        ):
            sample = "; ".join(reason for _, reason in batch.poison[:3])
            raise StreamHalted(
                f"{len(batch.poison)} of {total} records in one batch are poison (first: {sample})"
            )

    def _apply_with_retry(self, batch: DecodedBatch) -> int:
        delay = self.config.db_retry_initial_s
        while True:
            try:
                with transaction.atomic():
                    applied = self._apply_isolating(batch, batch.events, batch.sources)
                    dead_letters_store(stream=self.spec.name, poison=batch.poison)
                return applied
            except (OperationalError, InterfaceError) as exc:
                # The same batch is retried until Postgres is back: offsets stay uncommitted,
                # so a stop during the outage loses nothing (the records are redelivered).
                logger.warning(
                    "stream %s: database unavailable (%s); retrying in %.1fs",
                    self.spec.name,
                    str(exc).strip().splitlines()[0],
                    delay,
                )
                self._reset_db_connection()
                if self._stop.wait(delay):
                    raise StreamStopped(self.spec.name) from exc
                delay = min(delay * 2, self.config.db_retry_max_s)

    def _apply_isolating(
        self, batch: DecodedBatch, events: list[Any], sources: list[ConsumerRecord]
    ) -> int:
        """Apply events in a savepoint; if the database rejects them (a value that passed the
        contract but not a column), bisect to find the records to dead-letter, apply the rest."""
        if not events:
            return 0
        try:
            with transaction.atomic():
                return self.spec.handle(events)
        except (DataError, IntegrityError) as exc:
            if len(events) == 1:
                reason = str(exc).strip().splitlines()[0]
                batch.poison.append((sources[0], f"rejected by the database: {reason}"))
                return 0
            half = len(events) // 2
            return self._apply_isolating(
                batch, events[:half], sources[:half]
            ) + self._apply_isolating(batch, events[half:], sources[half:])

    @staticmethod
    def _reset_db_connection() -> None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            logger.debug("closing a broken connection failed", exc_info=True)

    def _produce_dead_letters(self, batch: DecodedBatch) -> None:
        if not batch.poison:
            return
        assert self._producer is not None
        for record, reason in batch.poison:
            headers = [
                ("dlq.reason", reason.encode()),
                ("dlq.topic", record.topic.encode()),
                ("dlq.partition", str(record.partition).encode()),
                ("dlq.offset", str(record.offset).encode()),
            ]
            self._producer.send(
                self.spec.dlq_topic, key=record.key, value=record.value, headers=headers
            )
        self._producer.flush(timeout=30)

    def _commit_offsets(self, batch: DecodedBatch) -> None:
        assert self._consumer is not None
        try:
            self._consumer.commit(offsets=batch.next_offsets())
        except CommitFailedError:
            # The group rebalanced: the new owner re-reads these records and the
            # version guard makes the re-application a no-op.
            logger.warning("stream %s: offset commit lost to a rebalance", self.spec.name)

    def _record_batch(
        self, batch: DecodedBatch, applied: int, committed_ms: int, started: float
    ) -> None:
        event_times = [t for t in map(self.spec.event_time_ms, batch.events) if t is not None]
        try:
            stream_batch_record(
                stream=self.spec.name,
                records=len(batch.records),
                applied=applied,
                skipped=batch.skipped,
                dead_lettered=len(batch.poison),
                newest_event_ms=max(event_times, default=None),
                histogram=latency_histogram(event_times, committed_ms),
                committed_ms=committed_ms,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        except (OperationalError, InterfaceError):
            logger.warning("stream %s: batch figures not recorded", self.spec.name, exc_info=True)
            self._reset_db_connection()

    def _record_halt(self, reason: str) -> None:
        try:
            stream_halt_record(stream=self.spec.name, reason=reason)
        except (OperationalError, InterfaceError):
            logger.exception("stream %s: could not record the halt", self.spec.name)

    def _close(self) -> None:
        for client in (self._consumer, self._producer):
            if client is None:
                continue
            try:
                client.close()
            except KafkaError:
                logger.warning("stream %s: closing a Kafka client failed", self.spec.name)
        close_old_connections()
        connection.close()
