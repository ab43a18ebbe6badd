"""Writes of the stream runtime: batch figures, positions, runner health, halts and resumes,
dead letters and their replay."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from kafka import KafkaProducer
from kafka.consumer.fetcher import ConsumerRecord

from travelbot.models import (
    DeadLetter,
    RunnerHeartbeat,
    StreamBatch,
    StreamFailure,
    StreamOffset,
    StreamState,
)
from travelbot.streams.kafka import Message, make_raw_producer, produce_checked
from travelbot.streams.upsert import ms_to_datetime


def record_fingerprint(record: ConsumerRecord) -> int:
    """A signed 64-bit digest of a record's timestamp, key and value: tells a redelivery of the
    same record from a different record at the same offset (a reset or recreated log)."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (str(record.timestamp).encode(), record.key, record.value):
        digest.update(b"\x00" if part is None else b"\x01" + part)
    return int.from_bytes(digest.digest(), "big", signed=True)


@dataclass(frozen=True)
class Position:
    """Where a partition's reading stands: the next offset, and the last record's fingerprint."""

    next_offset: int
    fingerprint: int


# --- dead letters --------------------------------------------------------------------------


def dead_letters_store(*, stream: str, poison: list[tuple[ConsumerRecord, str]]) -> None:
    """Keep poison records for staff and for the dead-letter topic, inside the batch's
    transaction. A redelivered record is stored once."""
    if not poison:
        return
    DeadLetter.objects.bulk_create(
        [
            DeadLetter(
                stream=stream,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                fingerprint=record_fingerprint(record),
                key=record.key,
                value=record.value,
                reason=reason[:2000],
            )
            for record, reason in poison
        ],
        update_conflicts=True,
        unique_fields=["topic", "partition", "offset", "fingerprint"],
        update_fields=["reason"],
    )


def dead_letters_relay(
    *, stream: str, dlq_topic: str, producer: KafkaProducer, limit: int = 1000
) -> int:
    """Send up to `limit` of the stream's letters not yet on its dead-letter topic and mark
    those the broker acknowledged (the dead-letter table is their outbox). Rows are locked
    while they are sent, so two runners of one stream never send the same letter. Raises the
    first produce error after marking the rest, so the caller keeps its Kafka offsets
    uncommitted. Returns how many were sent: call again until it returns 0."""
    max_bytes = int(producer.config["max_request_size"])
    with transaction.atomic():
        letters = list(
            DeadLetter.objects.filter(stream=stream, produced_at=None)
            .select_for_update(skip_locked=True)
            .order_by("pk")[:limit]
        )
        if not letters:
            return 0
        acknowledged, error = produce_checked(
            producer,
            [_dead_letter_message(letter, dlq_topic, max_bytes=max_bytes) for letter in letters],
            timeout_s=settings.STREAM_DLQ_TIMEOUT_S,
        )
        DeadLetter.objects.filter(pk__in=[letters[i].pk for i in acknowledged]).update(
            produced_at=timezone.now()
        )
    if error is not None:
        raise error
    return len(acknowledged)


def _dead_letter_message(letter: DeadLetter, dlq_topic: str, *, max_bytes: int) -> Message:
    headers = [
        ("dlq.reason", letter.reason.encode()),
        ("dlq.topic", letter.topic.encode()),
        ("dlq.partition", str(letter.partition).encode()),
        ("dlq.offset", str(letter.offset).encode()),
    ]
    key, value = _raw(letter.key), _raw(letter.value)
    if _message_size(key, value, headers) <= max_bytes:
        return dlq_topic, key, value, headers
    # The broker took the record, but not with our headers on top: a letter the producer
    # refuses would fail every relay and stop the stream for good. Send what fits, flagged.
    headers += [
        ("dlq.truncated", b"true"),
        ("dlq.original_key_size", str(len(key or b"")).encode()),
        ("dlq.original_value_size", str(len(value or b"")).encode()),
    ]
    room = max_bytes - _message_size(None, None, headers)
    key = None if key is None else key[: max(0, room)]
    value = None if value is None else value[: max(0, room - len(key or b""))]
    return dlq_topic, key, value, headers


# Bytes a record batch of one record needs beyond its key, value and headers (batch header,
# record attributes and length varints), rounded well up.
RECORD_FRAMING_BYTES = 256


def _message_size(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> int:
    payload = len(key or b"") + len(value or b"")
    return RECORD_FRAMING_BYTES + payload + sum(len(n) + len(v) + 10 for n, v in headers)


class ReplayInProgress(Exception):
    """Another request is replaying the same letters right now."""


def dead_letters_replay(
    *, stream: str, user: AbstractBaseUser | AnonymousUser | None, ids: list[int] | None = None
) -> int:
    """Re-publish pending dead letters to their topic (after a fix), once: the rows are locked
    while they are sent, so a second click finds them taken or already replayed."""
    with transaction.atomic():
        pending = DeadLetter.objects.filter(stream=stream, replayed_at=None).order_by("pk")
        if ids is not None:
            pending = pending.filter(pk__in=ids)
        letters = list(pending.select_for_update(skip_locked=True))
        if not letters:
            if pending.exists():
                raise ReplayInProgress(stream)
            return 0
        _send_to_origin(letters)
        return DeadLetter.objects.filter(pk__in=[letter.pk for letter in letters]).update(
            replayed_at=timezone.now(), replayed_by=_who(user)
        )


def _who(user: AbstractBaseUser | AnonymousUser | None) -> AbstractBaseUser | None:
    return user if isinstance(user, AbstractBaseUser) else None


def _send_to_origin(letters: list[DeadLetter]) -> None:
    producer = make_raw_producer(list(settings.KAFKA_BOOTSTRAP_SERVERS))
    try:
        messages: list[Message] = [
            (letter.topic, _raw(letter.key), _raw(letter.value), []) for letter in letters
        ]
        _, error = produce_checked(producer, messages, timeout_s=30)  # type: ignore[arg-type]
        if error is not None:
            raise error
    finally:
        producer.close(timeout=5)


def _raw(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


# --- positions -----------------------------------------------------------------------------

OFFSETS_UPSERT = (
    "INSERT INTO travelbot_streamoffset "
    '("group", topic, partition, next_offset, fingerprint, updated_at) '
    "SELECT %s, %s, u.partition, u.next_offset, u.fingerprint, clock_timestamp() "
    "FROM unnest(%s::int[], %s::bigint[], %s::bigint[]) AS u(partition, next_offset, fingerprint) "
    'ON CONFLICT ("group", topic, partition) DO UPDATE SET '
    "next_offset = excluded.next_offset, fingerprint = excluded.fingerprint, "
    "updated_at = excluded.updated_at"
)


def stream_positions_store(*, group: str, topic: str, positions: dict[int, Position]) -> None:
    """One statement, inside the batch's transaction: the data and its position commit together."""
    if not positions:
        return
    partitions = sorted(positions)
    with connection.cursor() as cursor:
        cursor.execute(
            OFFSETS_UPSERT,
            [
                group,
                topic,
                partitions,
                [positions[p].next_offset for p in partitions],
                [positions[p].fingerprint for p in partitions],
            ],
        )


def stream_position_forget(*, group: str, topic: str, partition: int) -> None:
    StreamOffset.objects.filter(group=group, topic=topic, partition=partition).delete()


# --- batches, halts, resets ----------------------------------------------------------------


def stream_batch_record(
    *,
    stream: str,
    records: int,
    applied: int,
    skipped: int,
    dead_lettered: int,
    newest_event_ms: int | None,
    histogram: list[int],
    committed_ms: int,
    duration_ms: float,
) -> None:
    """One commit per batch: the figures, and the stream's progress (last batch, newest event)."""
    committed_at = ms_to_datetime(committed_ms)
    newest_event_at = ms_to_datetime(newest_event_ms) if newest_event_ms is not None else None
    with transaction.atomic():
        StreamBatch.objects.create(
            stream=stream,
            committed_at=committed_at,
            records=records,
            applied=applied,
            skipped=skipped,
            dead_lettered=dead_lettered,
            newest_event_at=newest_event_at,
            latency_histogram=histogram,
            duration_ms=duration_ms,
        )
        with connection.cursor() as cursor:
            cursor.execute(STATE_UPSERT, [stream, committed_at, newest_event_at])


# GREATEST ignores NULLs, so a batch without events never moves freshness backwards. A halt is
# left alone: another runner's progress does not resume a stream that staff must look at.
STATE_UPSERT = (
    "INSERT INTO travelbot_streamstate "
    "(stream, last_batch_at, newest_event_at, halted_reason, resume_mode, log_reset_detail, "
    "updated_at) VALUES (%s, %s, %s, '', '', '', clock_timestamp()) "
    "ON CONFLICT (stream) DO UPDATE SET last_batch_at = excluded.last_batch_at, "
    "newest_event_at = GREATEST(travelbot_streamstate.newest_event_at, excluded.newest_event_at), "
    "updated_at = excluded.updated_at"
)


def stream_halt_record(*, stream: str, reason: str) -> None:
    StreamState.objects.update_or_create(
        stream=stream,
        defaults={"halted_at": timezone.now(), "halted_reason": reason[:4000], "resume_mode": ""},
    )


def stream_resume(*, stream: str, user: AbstractBaseUser | AnonymousUser | None, mode: str) -> bool:
    """Clear a halt so its runners try again; False if the stream was not halted."""
    if mode not in StreamState.ResumeMode.values:
        raise ValueError(f"unknown resume mode {mode!r}")
    return bool(
        StreamState.objects.filter(stream=stream, halted_at__isnull=False).update(
            halted_at=None,
            resumed_at=timezone.now(),
            resumed_by=_who(user),
            resume_mode=mode,
            updated_at=timezone.now(),
        )
    )


def stream_log_reset_record(*, stream: str, detail: str) -> None:
    StreamState.objects.update_or_create(
        stream=stream, defaults={"log_reset_at": timezone.now(), "log_reset_detail": detail[:4000]}
    )


def stream_log_reset_dismiss(*, stream: str) -> None:
    StreamState.objects.filter(stream=stream).update(log_reset_at=None, log_reset_detail="")


# --- runner health -------------------------------------------------------------------------


@dataclass
class Heartbeat:
    runner_id: str
    stream: str
    hostname: str
    pid: int
    state: str
    started_at: datetime
    last_progress_at: datetime | None
    partitions: list[int]
    failures: int
    last_failure_at: datetime | None
    last_failure: str
    next_retry_at: datetime | None


def runner_heartbeat_record(beat: Heartbeat) -> None:
    RunnerHeartbeat.objects.update_or_create(
        runner_id=beat.runner_id,
        defaults={
            "stream": beat.stream,
            "hostname": beat.hostname,
            "pid": beat.pid,
            "state": beat.state,
            "started_at": beat.started_at,
            "heartbeat_at": timezone.now(),
            "last_progress_at": beat.last_progress_at,
            "partitions": beat.partitions,
            "failures": beat.failures,
            "last_failure_at": beat.last_failure_at,
            "last_failure": beat.last_failure[:4000],
            "next_retry_at": beat.next_retry_at,
        },
    )


def runner_failure_record(*, beat: Heartbeat, exception: BaseException) -> None:
    with transaction.atomic():
        StreamFailure.objects.create(
            stream=beat.stream,
            runner_id=beat.runner_id,
            occurred_at=beat.last_failure_at or timezone.now(),
            exception=type(exception).__name__,
            message=(str(exception) or repr(exception))[:4000],
            count=beat.failures,
        )
        runner_heartbeat_record(beat)


# --- retention -----------------------------------------------------------------------------


def stream_stats_prune(*, older_than: timedelta | None = None) -> int:
    """Drop batch figures past the retention window (keeping each stream's newest batch), runners
    not heard of for a day and failures older than a week."""
    keep = older_than or timedelta(minutes=settings.STREAM_STATS_RETENTION_MINUTES)
    now = timezone.now()
    newest = StreamBatch.objects.values("stream").annotate(newest=Max("id")).values("newest")
    deleted, _ = (
        StreamBatch.objects.filter(committed_at__lt=now - keep).exclude(id__in=newest).delete()
    )
    RunnerHeartbeat.objects.filter(heartbeat_at__lt=now - timedelta(days=1)).delete()
    StreamFailure.objects.filter(occurred_at__lt=now - timedelta(days=7)).delete()
    return deleted


def ids_from_form(values: Iterable[str]) -> list[int]:
    """Letter ids ticked on the staff page; anything that is not an id is ignored."""
    return [int(value) for value in values if value.isdigit()]
