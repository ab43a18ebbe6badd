"""Writes of the stream runtime: batch figures, halts, dead letters and their replay."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from kafka.consumer.fetcher import ConsumerRecord

from travelbot.models import DeadLetter, StreamBatch, StreamState
from travelbot.streams.kafka import make_raw_producer
from travelbot.streams.upsert import ms_to_datetime


def dead_letters_store(*, stream: str, poison: list[tuple[ConsumerRecord, str]]) -> None:
    """Keep poison records for staff; a redelivered batch does not store them twice."""
    if not poison:
        return
    DeadLetter.objects.bulk_create(
        [
            DeadLetter(
                stream=stream,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                reason=reason[:2000],
            )
            for record, reason in poison
        ],
        ignore_conflicts=True,
    )


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
    """One commit per batch: the figures, and the stream's state (alive, newest event)."""
    committed_at = ms_to_datetime(committed_ms)
    newest_event_at = ms_to_datetime(newest_event_ms) if newest_event_ms is not None else None
    with transaction.atomic():
        _batch_insert(
            stream,
            committed_at,
            records,
            applied,
            skipped,
            dead_lettered,
            newest_event_at,
            histogram,
            duration_ms,
        )
        with connection.cursor() as cursor:
            cursor.execute(STATE_UPSERT, [stream, committed_at, newest_event_at])


# GREATEST ignores NULLs, so a batch without events never moves freshness backwards.
STATE_UPSERT = (
    "INSERT INTO travelbot_streamstate "
    "(stream, last_batch_at, newest_event_at, halted_at, halted_reason, updated_at) "
    "VALUES (%s, %s, %s, NULL, '', clock_timestamp()) ON CONFLICT (stream) DO UPDATE SET "
    "last_batch_at = excluded.last_batch_at, "
    "newest_event_at = GREATEST(travelbot_streamstate.newest_event_at, excluded.newest_event_at), "
    "halted_at = NULL, halted_reason = '', updated_at = excluded.updated_at"
)


def _batch_insert(
    stream: str,
    committed_at: datetime,
    records: int,
    applied: int,
    skipped: int,
    dead_lettered: int,
    newest_event_at: datetime | None,
    histogram: list[int],
    duration_ms: float,
) -> None:
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


def stream_halt_record(*, stream: str, reason: str) -> None:
    StreamState.objects.update_or_create(
        stream=stream, defaults={"halted_at": timezone.now(), "halted_reason": reason[:4000]}
    )


def dead_letters_replay(*, stream: str, ids: list[int] | None = None) -> int:
    """Re-publish dead letters to their original topic (after a fix) and mark them replayed."""
    pending = DeadLetter.objects.filter(stream=stream, replayed_at__isnull=True).order_by("id")
    if ids is not None:
        pending = pending.filter(id__in=ids)
    letters = list(pending)
    if not letters:
        return 0
    producer = make_raw_producer(list(settings.KAFKA_BOOTSTRAP_SERVERS))
    try:
        for letter in letters:
            producer.send(letter.topic, key=_raw(letter.key), value=_raw(letter.value))
        producer.flush(timeout=30)
    finally:
        producer.close()
    return DeadLetter.objects.filter(id__in=[letter.id for letter in letters]).update(
        replayed_at=timezone.now()
    )


def _raw(value: bytes | memoryview | None) -> bytes | None:
    return None if value is None else bytes(value)


def stream_stats_prune(*, older_than: timedelta | None = None) -> int:
    """Drop batch figures past the retention window, keeping each stream's newest batch."""
    keep = older_than or timedelta(minutes=settings.STREAM_STATS_RETENTION_MINUTES)
    newest = StreamBatch.objects.values("stream").annotate(newest=Max("id")).values("newest")
    deleted, _ = (
        StreamBatch.objects.filter(committed_at__lt=timezone.now() - keep)
        .exclude(id__in=newest)
        .delete()
    )
    return deleted
