"""Dead letters stored once and replayed after a fix; batch figures; halts and resumes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from kafka.consumer.fetcher import ConsumerRecord

from harness.streaming import isolated, read_topic
from inventory.streams import STREAMS
from travelbot.models import DeadLetter, StreamBatch, StreamState
from travelbot.services import (
    dead_letters_replay,
    dead_letters_store,
    stream_batch_record,
    stream_halt_record,
    stream_resume,
    stream_stats_prune,
)
from travelbot.streams.upsert import ms_to_datetime

FARES = next(spec for spec in STREAMS if spec.name == "inventory.fares")
pytestmark = pytest.mark.django_db


def poison(topic: str, offset: int, *, timestamp: int = 0) -> ConsumerRecord:
    return ConsumerRecord(
        topic=topic,
        partition=0,
        leader_epoch=0,
        offset=offset,
        timestamp=timestamp,
        timestamp_type=0,
        key=b'{"fare_id":"F1"}',
        value=b"{oops",
        headers=[],
        checksum=None,
        serialized_key_size=16,
        serialized_value_size=5,
        serialized_header_size=0,
    )


def test_a_redelivered_poison_record_is_stored_once() -> None:
    record = poison("inventory.fares", 3)
    dead_letters_store(stream=FARES.name, poison=[(record, "value is not UTF-8 JSON")])
    dead_letters_store(stream=FARES.name, poison=[(record, "value is not UTF-8 JSON")])
    assert DeadLetter.objects.count() == 1


def test_a_new_record_that_reuses_an_old_offset_is_a_new_dead_letter() -> None:
    """After a broker's log is reset, offsets start again from 0."""
    dead_letters_store(stream=FARES.name, poison=[(poison("inventory.fares", 3), "bad")])
    reused = poison("inventory.fares", 3, timestamp=1_796_000_000_000)
    dead_letters_store(stream=FARES.name, poison=[(reused, "bad")])
    assert DeadLetter.objects.count() == 2


def test_replay_republishes_the_original_bytes_and_records_who() -> None:
    spec = isolated(FARES)
    dead_letters_store(stream=FARES.name, poison=[(poison(spec.topic, 9), "bad JSON")])
    staff = User.objects.create_user("ops", is_staff=True)
    assert dead_letters_replay(stream=FARES.name, user=staff) == 1
    [record] = read_topic(spec.topic, 1)
    assert (record.key, record.value) == (b'{"fare_id":"F1"}', b"{oops")
    letter = DeadLetter.objects.get()
    assert letter.replayed_at is not None and letter.replayed_by == staff
    assert dead_letters_replay(stream=FARES.name, user=staff) == 0


def test_replay_sends_only_the_letters_asked_for() -> None:
    spec = isolated(FARES)
    dead_letters_store(
        stream=FARES.name,
        poison=[(poison(spec.topic, 1), "bad"), (poison(spec.topic, 2), "bad")],
    )
    second = DeadLetter.objects.get(offset=2).pk
    assert dead_letters_replay(stream=FARES.name, user=None, ids=[second]) == 1
    assert [r.offset for r in DeadLetter.objects.filter(replayed_at=None)] == [1]


def test_pruning_keeps_the_newest_batch_of_each_stream() -> None:
    old = timezone.now() - timedelta(hours=3)
    for minutes in (0, 1):
        StreamBatch.objects.create(
            stream="inventory.fares",
            committed_at=old + timedelta(minutes=minutes),
            records=1,
            applied=1,
            skipped=0,
            dead_lettered=0,
            duration_ms=1.0,
        )
    assert stream_stats_prune() == 1
    assert StreamBatch.objects.get().committed_at == old + timedelta(minutes=1)


def record_batch(newest_event_ms: int | None) -> None:
    stream_batch_record(
        stream="inventory.flights",
        records=1,
        applied=1,
        skipped=0,
        dead_lettered=0,
        newest_event_ms=newest_event_ms,
        histogram=[1],
        committed_ms=1_796_000_001_000,
        duration_ms=1.0,
    )


def test_an_older_batch_never_moves_freshness_backwards() -> None:
    record_batch(1_796_000_000_900)
    record_batch(1_796_000_000_100)
    record_batch(None)
    newest = StreamState.objects.get(stream="inventory.flights").newest_event_at
    assert newest == ms_to_datetime(1_796_000_000_900)


def test_a_committed_batch_leaves_a_halt_for_staff() -> None:
    """Another runner's progress must not resume a stream whose poison staff must look at."""
    stream_halt_record(stream="inventory.flights", reason="40 of 40 records are poison")
    record_batch(1_796_000_000_900)
    assert StreamState.objects.get(stream="inventory.flights").halted_at is not None


def test_staff_resume_clears_the_halt_and_says_how() -> None:
    stream_halt_record(stream="inventory.flights", reason="40 of 40 records are poison")
    staff = User.objects.create_user("ops", is_staff=True)
    assert stream_resume(stream="inventory.flights", user=staff, mode="dead_letter")
    state = StreamState.objects.get(stream="inventory.flights")
    assert (state.halted_at, state.resume_mode, state.resumed_by) == (None, "dead_letter", staff)
    assert not stream_resume(stream="inventory.flights", user=staff, mode="retry")
