"""The stream runtime against the real broker and Postgres."""

from __future__ import annotations

import json

import pytest

from inventory.models import Flight
from inventory.streams import STREAMS
from tests.factories import envelope, flight_row
from tests.streaming import (
    RunnerThread,
    committed_offsets,
    isolated,
    publish,
    publish_raw,
    read_topic,
    runtime_config,
    wait_until,
)
from travelbot.models import DeadLetter, StreamBatch, StreamState
from travelbot.streams.runtime import StreamHalted

FLIGHTS = next(spec for spec in STREAMS if spec.name == "inventory.flights")
pytestmark = pytest.mark.django_db(transaction=True)


def flight_messages(count: int) -> list[tuple[dict[str, str], dict[str, object]]]:
    return [
        (
            {"flight_id": f"TB{n}-2026-12-01"},
            envelope("c", flight_row(f"TB{n}-2026-12-01"), lsn=n + 1),
        )
        for n in range(count)
    ]


def test_it_applies_a_batch_and_commits_offsets_after_the_transaction() -> None:
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(50))
    with RunnerThread(spec):
        wait_until(lambda: Flight.objects.count() == 50, what="50 flights")
        wait_until(lambda: sum(committed_offsets(spec).values()) == 50, what="offsets committed")
    assert StreamBatch.objects.filter(stream=spec.name).exists()


def test_malformed_records_go_to_the_dead_letter_topic_with_their_reason() -> None:
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(30))
    publish_raw(
        spec.topic,
        [
            (b'{"flight_id":"BAD1"}', b"not json"),
            (b'{"flight_id":"BAD2"}', json.dumps(envelope("x", {}, lsn=1)).encode()),
        ],
    )
    publish(
        spec.topic,
        [({"flight_id": "TB99-2026-12-01"}, envelope("c", flight_row("TB99-2026-12-01"), lsn=99))],
    )
    with RunnerThread(spec):
        wait_until(lambda: Flight.objects.count() == 31, what="the stream to keep flowing")
        wait_until(lambda: DeadLetter.objects.count() == 2, what="two dead letters")
    reasons = sorted(DeadLetter.objects.values_list("reason", flat=True))
    assert "not UTF-8 JSON" in reasons[1] and "unknown op 'x'" in reasons[0]
    assert sorted(record.key for record in read_topic(spec.dlq_topic, 2)) == [
        b'{"flight_id":"BAD1"}',
        b'{"flight_id":"BAD2"}',
    ]


def test_it_halts_without_committing_when_most_of_a_batch_is_poison() -> None:
    spec = isolated(FLIGHTS)
    publish_raw(spec.topic, [(b'{"flight_id":"X"}', b"garbage")] * 40)
    runner = RunnerThread(spec, runtime_config(max_wait_ms=1000))
    with runner:
        wait_until(lambda: not runner.thread.is_alive(), what="the runner to halt")
    assert isinstance(runner.error, StreamHalted)
    assert committed_offsets(spec) == {}
    assert "40 of 40" in StreamState.objects.get(stream=spec.name).halted_reason


def test_stop_finishes_the_current_batch_and_commits_it() -> None:
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(200))
    runner = RunnerThread(spec, runtime_config(max_records=50))
    with runner:
        wait_until(lambda: runner.runner.batches_committed >= 1, what="a first batch")
    applied = Flight.objects.count()
    assert applied >= 50
    assert sum(committed_offsets(spec).values()) == applied
