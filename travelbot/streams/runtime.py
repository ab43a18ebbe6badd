"""The stream runtime: poll a batch, decode, apply in one transaction, then commit offsets.

Semantics follow Sentry's arroyo on kafka-python:
- a batch closes at `max_records`, `max_wait_ms` after its first record, or when partitions
  are revoked (their records are dropped: the new owner reads them);
- records that fail to decode, and rows the handler or Postgres refuse, are poison: stored
  as dead letters in the batch's transaction and produced to `<topic>.dlq`, unless so many
  fail that the code, not the data, must be broken; then the stream halts without committing;
- the next offset of every partition is stored in Postgres in the batch's transaction, with
  a fingerprint of the last record: a new owner resumes exactly there, and a broker whose log
  was reset is noticed instead of being read from a position past its end;
- Kafka offsets are committed only after the Postgres transaction and every dead letter's
  produce are acknowledged; a commit lost to a rebalance is harmless (Postgres holds the place);
- a database outage is waited out by retrying the same batch, never skipping it;
- any other error propagates: the supervisor records it and restarts the runner;
- stop() (SIGTERM) lets the current batch finish and commit before closing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.utils import DataError, IntegrityError, InterfaceError, OperationalError
from kafka import ConsumerRebalanceListener, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    KafkaError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
from kafka.structs import OffsetAndMetadata

from travelbot.models import STREAM_LATENCY, StreamOffset
from travelbot.services import (
    Position,
    dead_letters_relay,
    dead_letters_store,
    record_fingerprint,
    stream_batch_record,
    stream_halt_record,
    stream_log_reset_record,
    stream_position_forget,
    stream_positions_store,
)
from travelbot.streams.envelope import PoisonRecord
from travelbot.streams.kafka import make_consumer, make_raw_producer
from travelbot.streams.registry import StreamSpec

logger = logging.getLogger(__name__)

# How long a position probe waits for the record applied last before calling the log reset.
PROBE_WAIT_S = 3.0

# A commit refused because the group moved on: the next owner resumes from Postgres.
COMMIT_LOST = (CommitFailedError, RebalanceInProgressError, IllegalGenerationError,
               UnknownMemberIdError)  # fmt: skip


class StreamHalted(RuntimeError):
    """Too many poison records in one batch: the handler or the contract is broken."""


class StreamStopped(Exception):
    """Stop was requested while a batch could not be applied or its dead letters relayed;
    its offsets stay uncommitted."""


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
    kafka_timeout_ms: int = 10_000  # bootstrap, offset commits, position probes
    commit_attempts: int = 3
    dlq_max_bytes: int = 1_000_000  # the largest request of the dead-letter producer
    relay_attempts: int = 5  # dead-letter relays tried (with backoff) before the runner fails

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
            dlq_max_bytes=settings.STREAM_DLQ_MAX_BYTES,
        )


@dataclass
class DecodedBatch:
    records: list[ConsumerRecord]
    events: list[Any] = field(default_factory=list)
    sources: list[ConsumerRecord] = field(default_factory=list)  # the record of each event
    poison: list[tuple[ConsumerRecord, str]] = field(default_factory=list)
    skipped: int = 0

    def last_records(self) -> dict[TopicPartition, ConsumerRecord]:
        last: dict[TopicPartition, ConsumerRecord] = {}
        for record in self.records:
            partition = _partition_of(record)
            if partition not in last or record.offset > last[partition].offset:
                last[partition] = record
        return last

    def positions(self) -> dict[int, Position]:
        return {
            tp.partition: Position(record.offset + 1, record_fingerprint(record))
            for tp, record in self.last_records().items()
        }

    def next_offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        return {
            tp: OffsetAndMetadata(record.offset + 1, "", -1)
            for tp, record in self.last_records().items()
        }


@dataclass
class Applied:
    """What one attempt at a batch did: rows changed, and every poison record with its reason."""

    rows: int
    poison: list[tuple[ConsumerRecord, str]]


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


def _partition_of(record: ConsumerRecord) -> TopicPartition:
    return TopicPartition(record.topic, record.partition)


def latency_histogram(event_times_ms: list[int], committed_ms: int) -> list[int]:
    return STREAM_LATENCY.histogram(committed_ms - event_ms for event_ms in event_times_ms)


class RebalanceTracker(ConsumerRebalanceListener):
    """Remembers what a rebalance took away and gave, for the runner to act on after poll().

    The callbacks run on kafka-python's IO thread while the runner waits inside poll(), so
    they only record; the runner drops revoked records and positions new partitions.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revoked: set[TopicPartition] = set()
        self._unpositioned: set[TopicPartition] = set()
        self.assignment: set[TopicPartition] = set()

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        with self._lock:
            self._revoked |= set(revoked)
            self._unpositioned -= set(revoked)
            self.assignment -= set(revoked)

    def on_partitions_lost(self, lost: set[TopicPartition]) -> None:
        self.on_partitions_revoked(lost)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        with self._lock:
            self._unpositioned |= set(assigned)
            self.assignment |= set(assigned)

    def take(self) -> tuple[set[TopicPartition], set[TopicPartition]]:
        """(revoked, newly assigned) since the last call."""
        with self._lock:
            taken = (self._revoked, self._unpositioned)
            self._revoked, self._unpositioned = set(), set()
            return taken


class StreamRunner:
    """Consumes one registered stream until stopped. One runner per thread or process.

    `on_poll` and `on_commit` let a supervisor keep a heartbeat; `accept_poison_once` lets
    the first batch dead-letter its poison whatever the ratio (staff resumed a halt so).
    """

    def __init__(
        self,
        spec: StreamSpec,
        config: RuntimeConfig,
        *,
        client_id: str = "",
        on_poll: Callable[[list[int]], None] | None = None,
        on_commit: Callable[[], None] | None = None,
        accept_poison_once: bool = False,
    ) -> None:
        self.spec = spec
        self.config = config
        self.client_id = client_id or f"travelbot-{spec.name}"
        self._stop = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._producer: KafkaProducer | None = None
        self._probe: KafkaConsumer | None = None
        self._rebalance = RebalanceTracker()
        self._on_poll = on_poll or (lambda partitions: None)
        self._on_commit = on_commit or (lambda: None)
        self._accept_poison = accept_poison_once
        self.batches_committed = 0
        self.commits_lost = 0

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        try:
            self._consumer = self._make_consumer()
            self._producer = make_raw_producer(
                self.config.bootstrap_servers, max_request_size=self.config.dlq_max_bytes
            )
            self._relay_dead_letters()
            logger.info(
                "stream %s: consuming %s as group %s",
                self.spec.name,
                self.spec.topic,
                self.spec.group,
            )
            while not self.stopping:
                records = self.poll_batch()
                self._on_poll(sorted(tp.partition for tp in self._rebalance.assignment))
                if records:
                    self.process(records)
        except StreamStopped:
            logger.info("stream %s: stopped with a batch left uncommitted", self.spec.name)
        except StreamHalted as exc:
            logger.error("stream %s halted: %s", self.spec.name, exc)
            self._record_halt(str(exc))
            raise
        finally:
            self._close()

    def _make_consumer(self) -> KafkaConsumer:
        consumer = make_consumer(
            self.config.bootstrap_servers,
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
            bootstrap_timeout_ms=self.config.kafka_timeout_ms,
        )
        consumer.subscribe([self.spec.topic], listener=self._rebalance)
        return consumer

    # --- reading ---------------------------------------------------------------------------

    def poll_batch(self) -> list[ConsumerRecord]:
        """Block up to idle_poll_ms for a first record, then fill the batch by size or time.

        A rebalance closes the batch: records of revoked partitions are dropped (the new
        owner reads them), and newly assigned partitions are positioned from Postgres first.
        The poll that ran the rebalance may also have returned records, moving the consumer
        past them: every dropped record's partition that is still ours is seeked back.
        """
        assert self._consumer is not None
        records: list[ConsumerRecord] = []
        deadline: float | None = None
        timeout_ms = self.config.idle_poll_ms
        while len(records) < self.config.max_records and not self.stopping:
            polled = self._consumer.poll(
                timeout_ms=timeout_ms, max_records=self.config.max_records - len(records)
            )
            fresh = [record for batch in polled.values() for record in batch]
            revoked, assigned = self._rebalance.take()
            moved = self._position(assigned) if assigned else set()
            fresh = [r for r in fresh if _partition_of(r) not in moved]
            if revoked:
                kept = [r for r in records if _partition_of(r) not in revoked]
                dropped = [r for r in records if _partition_of(r) in revoked] + fresh
                self._rewind(dropped, positioned=moved)
                return kept
            records.extend(fresh)
            if not records:
                return records
            if deadline is None:
                deadline = time.monotonic() + self.config.max_wait_ms / 1000
            timeout_ms = int((deadline - time.monotonic()) * 1000)
            if timeout_ms <= 0:
                break
        return records

    def _rewind(self, dropped: list[ConsumerRecord], *, positioned: set[TopicPartition]) -> None:
        """Seek each partition still assigned back to its first dropped record, so the next
        batch reads what this one dropped; partitions just positioned from Postgres stay put.

        Without this, a partition with no stored position yet would resume after the dropped
        records, and the next commit would skip them for good."""
        assert self._consumer is not None
        first: dict[TopicPartition, int] = {}
        for record in dropped:
            tp = _partition_of(record)
            first[tp] = min(first.get(tp, record.offset), record.offset)
        owned = self._consumer.assignment()
        for tp, offset in first.items():
            if tp in owned and tp not in positioned:
                self._consumer.seek(tp, offset)

    def _position(self, partitions: set[TopicPartition]) -> set[TopicPartition]:
        """Resume each partition where Postgres says the data stands, if the broker still holds
        the record applied last; otherwise its log was reset: say so and read it from the start.

        Returns the partitions moved by a seek (records already fetched for them are stale)."""
        assert self._consumer is not None
        stored = {
            row.partition: Position(row.next_offset, row.fingerprint)
            for row in StreamOffset.objects.filter(group=self.spec.group, topic=self.spec.topic)
        }
        moved: set[TopicPartition] = set()
        resumed: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp in sorted(partitions, key=lambda tp: tp.partition):
            position = stored.get(tp.partition)
            if position is None:
                continue  # nothing applied yet: the group's committed offset, or the start
            moved.add(tp)
            problem = self._verify_position(tp, position)
            if problem is None:
                self._consumer.seek(tp, position.next_offset)
                resumed[tp] = OffsetAndMetadata(position.next_offset, "", -1)
                continue
            logger.error("stream %s: %s; reading it again from the start", self.spec.name, problem)
            stream_log_reset_record(stream=self.spec.name, detail=problem)
            stream_position_forget(group=self.spec.group, topic=tp.topic, partition=tp.partition)
            self._consumer.seek_to_beginning(tp)
        if resumed:
            # A runner that failed after its transaction but before its Kafka commit left the
            # group's offsets behind Postgres: bring them level, for every lag monitor.
            self._commit(resumed)
        return moved

    def _verify_position(self, tp: TopicPartition, position: Position) -> str | None:
        """None if the record at next_offset - 1 is the one applied last, else what is wrong."""
        probe = self._probe_consumer()
        timeout_ms = self.config.kafka_timeout_ms
        target = position.next_offset - 1
        if target < probe.beginning_offsets([tp], timeout_ms=timeout_ms)[tp]:
            return None  # removed by retention since: the position itself still holds
        probe.assign([tp])
        probe.seek(tp, target)
        # The broker answered above, so silence here means the record is not there. (End
        # offsets cannot tell: tansu reports the last batch's base offset, a lower bound.)
        deadline = time.monotonic() + PROBE_WAIT_S
        while time.monotonic() < deadline:
            found = probe.poll(timeout_ms=200).get(tp)
            if found:
                same = found[0].offset == target and record_fingerprint(found[0]) == (
                    position.fingerprint
                )
                return (
                    None
                    if same
                    else (
                        f"partition {tp.partition}: the record at offset {target} is not the one "
                        "applied last (the broker's log was reset or the topic recreated)"
                    )
                )
        return (
            f"partition {tp.partition}: the broker has no record at offset {target}, but "
            f"{position.next_offset} were applied (its log was reset)"
        )

    def _probe_consumer(self) -> KafkaConsumer:
        if self._probe is None:
            self._probe = make_consumer(
                self.config.bootstrap_servers,
                client_id=f"{self.client_id}:probe",
                enable_auto_commit=False,
                fetch_max_wait_ms=100,
                max_poll_records=1,
                bootstrap_timeout_ms=self.config.kafka_timeout_ms,
            )
        return self._probe

    # --- processing ------------------------------------------------------------------------

    def process(self, records: list[ConsumerRecord]) -> None:
        started = time.monotonic()
        batch = decode_batch(self.spec, records)
        self._check_poison(batch.poison, len(records))
        applied = self._apply_with_retry(batch)
        committed_ms = int(time.time() * 1000)
        if applied.poison:
            self._relay_dead_letters()
        self._commit_offsets(batch)
        self.batches_committed += 1
        self._accept_poison = False
        self._on_commit()
        self._record_batch(batch, applied, committed_ms, started)

    def _check_poison(self, poison: list[tuple[ConsumerRecord, str]], total: int) -> None:
        """Halt when the poison (bad records and rows refused downstream alike) says the code,
        not the data, is broken; unless staff resumed the stream to dead-letter it once."""
        if (
            not self._accept_poison
            and total >= self.config.poison_min_records
            and len(poison) / total > self.config.poison_max_ratio
        ):
            raise StreamHalted(
                f"{len(poison)} of {total} records in one batch are poison "
                f"(more than {self.config.poison_max_ratio:.0%}); first: {poison[0][1]}"
            )

    def _apply_with_retry(self, batch: DecodedBatch) -> Applied:
        delay = self.config.db_retry_initial_s
        while True:
            try:
                with transaction.atomic():
                    return self._apply(batch)
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

    def _apply(self, batch: DecodedBatch) -> Applied:
        """One attempt, inside the batch's transaction; a halt rolls everything back."""
        applied = Applied(rows=0, poison=list(batch.poison))
        applied.rows = self._apply_isolating(batch, batch.events, batch.sources, applied.poison)
        self._check_poison(applied.poison, len(batch.records))
        dead_letters_store(stream=self.spec.name, poison=applied.poison)
        stream_positions_store(
            group=self.spec.group, topic=self.spec.topic, positions=batch.positions()
        )
        return applied

    def _apply_isolating(
        self,
        batch: DecodedBatch,
        events: list[Any],
        sources: list[ConsumerRecord],
        poison: list[tuple[ConsumerRecord, str]],
    ) -> int:
        """Apply events in a savepoint; if the database rejects them (a value that passed the
        contract but not a column), bisect to find the records to dead-letter, apply the rest.
        Stops bisecting (halts) as soon as the poison alone would halt the batch."""
        if not events:
            return 0
        try:
            with transaction.atomic():
                result = self.spec.handle(events)
        except (DataError, IntegrityError) as exc:
            if len(events) == 1:
                reason = str(exc).strip().splitlines()[0]
                poison.append((sources[0], f"rejected by the database: {reason}"))
                self._check_poison(poison, len(batch.records))
                return 0
            half = len(events) // 2
            left = self._apply_isolating(batch, events[:half], sources[:half], poison)
            return left + self._apply_isolating(batch, events[half:], sources[half:], poison)
        if result.rejected:
            source_of = {id(event): record for event, record in zip(events, sources, strict=True)}
            poison += [(source_of[id(event)], reason) for event, reason in result.rejected]
        return result.applied

    @staticmethod
    def _reset_db_connection() -> None:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - the connection is already broken
            logger.debug("closing a broken connection failed", exc_info=True)

    def _relay_dead_letters(self) -> None:
        """Every stored dead letter must be on <topic>.dlq before offsets commit past it, so
        this relays until none is left, retrying a failed produce with backoff. If the broker
        still refuses, the error propagates and the offsets stay uncommitted: the restarted
        runner relays them first."""
        assert self._producer is not None
        delay = self.config.db_retry_initial_s
        for attempt in range(1, self.config.relay_attempts + 1):
            try:
                while dead_letters_relay(
                    stream=self.spec.name, dlq_topic=self.spec.dlq_topic, producer=self._producer
                ):
                    pass
                return
            except KafkaError as exc:
                if attempt == self.config.relay_attempts:
                    raise
                logger.warning(
                    "stream %s: dead letters not acknowledged (%r); retrying in %.1fs",
                    self.spec.name,
                    exc,
                    delay,
                )
                if self._stop.wait(delay):
                    raise StreamStopped(self.spec.name) from exc
                delay = min(delay * 2, self.config.db_retry_max_s)

    def _commit_offsets(self, batch: DecodedBatch) -> None:
        self._commit(batch.next_offsets())

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        assert self._consumer is not None
        for attempt in range(1, self.config.commit_attempts + 1):
            try:
                self._consumer.commit(offsets=offsets, timeout_ms=self.config.kafka_timeout_ms)
                return
            except COMMIT_LOST as exc:
                self.commits_lost += 1
                logger.info(
                    "stream %s: offset commit lost to a rebalance (%s); Postgres holds the place",
                    self.spec.name,
                    type(exc).__name__,
                )
                return
            except KafkaError as exc:
                if not getattr(exc, "retriable", False) or attempt == self.config.commit_attempts:
                    raise
                logger.warning(
                    "stream %s: offset commit failed (%r), retrying", self.spec.name, exc
                )
                if self._stop.wait(0.5 * attempt):
                    return  # Postgres holds the place; the next start resumes from it

    def _record_batch(
        self, batch: DecodedBatch, applied: Applied, committed_ms: int, started: float
    ) -> None:
        event_times = [t for t in map(self.spec.event_time_ms, batch.events) if t is not None]
        try:
            stream_batch_record(
                stream=self.spec.name,
                records=len(batch.records),
                applied=applied.rows,
                skipped=batch.skipped,
                dead_lettered=len(applied.poison),
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
        for name, close in (
            ("consumer", lambda c: c.close(autocommit=False, timeout_ms=5000)),
            ("producer", lambda p: p.close(timeout=5)),
            ("probe", lambda c: c.close(autocommit=False, timeout_ms=5000)),
        ):
            client = getattr(self, f"_{name}")
            if client is None:
                continue
            try:
                close(client)
            except Exception:  # noqa: BLE001 - closing after a failure must not hide it
                logger.warning("stream %s: closing the %s failed", self.spec.name, name)
        close_old_connections()
        connection.close()
