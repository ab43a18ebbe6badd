"""The stream runtime against the real broker and Postgres."""

from __future__ import annotations

import json
from dataclasses import replace
from functools import partial
from typing import Any

import pytest
from django.db.utils import OperationalError
from kafka.errors import KafkaTimeoutError

from harness.streaming import (
    RunnerThread,
    committed_offsets,
    isolated,
    publish,
    publish_raw,
    read_topic,
    runtime_config,
    wait_until,
)
from inventory.models import Flight
from inventory.streams import STREAMS
from tests.factories import envelope, flight_row
from travelbot.models import DeadLetter, StreamBatch, StreamOffset, StreamState
from travelbot.services import dead_letters_relay
from travelbot.streams import runtime
from travelbot.streams.registry import BatchResult, StreamSpec
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


MALFORMED = {
    "not JSON": (b'{"flight_id":"BAD1"}', b"not json"),
    "wrong types": (
        b'{"flight_id":"BAD2"}',
        json.dumps(
            envelope(
                "u",
                flight_row("BAD2", seats_available={"economy": "37", "premium": 4, "business": 2}),
                lsn=1,
            )
        ).encode(),
    ),
    "missing key field": (
        b'{"id":"BAD3"}',
        json.dumps(envelope("c", flight_row("BAD3"), lsn=1)).encode(),
    ),
    "unknown op": (b'{"flight_id":"BAD4"}', json.dumps(envelope("x", {}, lsn=1)).encode()),
    "huge value": (
        b'{"flight_id":"BAD5"}',
        json.dumps(envelope("u", flight_row("BAD5", gate="G" * 300_000), lsn=1)).encode(),
    ),
    "rejected by Postgres": (
        b'{"flight_id":"BAD6"}',
        json.dumps(envelope("u", flight_row("BAD6", gate="A\u0000"), lsn=1)).encode(),
    ),
}
EXPECTED_REASONS = {
    "BAD1": "value is not UTF-8 JSON",
    "BAD2": "Expected `int`, got `str` - at `$.after.seats_available.economy`",
    "BAD3": "key: Object missing required field `flight_id`",
    "BAD4": "Invalid enum value 'x' - at `$.op`",
    "BAD5": "more than the 262144 allowed",
    "BAD6": "rejected by the database",
}


def test_malformed_records_go_to_the_dead_letter_topic_with_their_reason() -> None:
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(30))
    publish_raw(spec.topic, list(MALFORMED.values()))
    publish(
        spec.topic,
        [({"flight_id": "TB99-2026-12-01"}, envelope("c", flight_row("TB99-2026-12-01"), lsn=99))],
    )
    with RunnerThread(spec):
        wait_until(lambda: Flight.objects.count() == 31, what="the stream to keep flowing")
        wait_until(lambda: DeadLetter.objects.count() == len(MALFORMED), what="dead letters")
    for letter in DeadLetter.objects.all():
        marker = next(bad for bad in EXPECTED_REASONS if bad in letter.key_text())
        assert EXPECTED_REASONS[marker] in letter.reason, letter.reason
    dlq = read_topic(spec.dlq_topic, len(MALFORMED))
    assert sorted(r.key for r in dlq) == sorted(key for key, _ in MALFORMED.values())
    assert all(dict(r.headers)["dlq.reason"] for r in dlq)
    assert not DeadLetter.objects.filter(produced_at=None).exists()


def test_it_halts_without_committing_when_most_of_a_batch_is_poison() -> None:
    spec = isolated(FLIGHTS)
    publish_raw(spec.topic, [(b'{"flight_id":"X"}', b"garbage")] * 40)
    runner = RunnerThread(spec, runtime_config(max_wait_ms=1000))
    with runner:
        wait_until(lambda: not runner.thread.is_alive(), what="the runner to halt")
    assert isinstance(runner.error, StreamHalted)
    assert committed_offsets(spec) == {}
    assert "40 of 40" in StreamState.objects.get(stream=spec.name).halted_reason


def test_rows_postgres_refuses_count_towards_the_poison_ratio() -> None:
    """A schema change that makes Postgres refuse every row is broken code, not 40 dead letters."""
    spec = isolated(FLIGHTS)
    publish(
        spec.topic,
        [
            ({"flight_id": f"NUL{n}"}, envelope("c", flight_row(f"NUL{n}", gate="A\u0000"), lsn=1))
            for n in range(40)
        ],
    )
    runner = RunnerThread(spec, runtime_config(max_wait_ms=1000))
    with runner:
        wait_until(lambda: not runner.thread.is_alive(), what="the runner to halt")
    assert isinstance(runner.error, StreamHalted)
    reason = StreamState.objects.get(stream=spec.name).halted_reason
    assert "rejected by the database" in reason
    assert (Flight.objects.count(), DeadLetter.objects.count(), committed_offsets(spec)) == (
        0,
        0,
        {},
    )


def test_a_retried_batch_lists_each_refused_record_once() -> None:
    spec = isolated(FLIGHTS)
    outage = {"left": 1}

    def flaky(events: list[Any]) -> BatchResult:
        result = FLIGHTS.handle(events)
        if outage["left"] and len(events) == 1:  # after Postgres refused a row: the DB "drops"
            outage["left"] -= 1
            raise OperationalError("server closed the connection unexpectedly")
        return result

    publish(spec.topic, flight_messages(30))
    publish(
        spec.topic, [({"flight_id": "NUL"}, envelope("c", flight_row("NUL", gate="\u0000"), lsn=1))]
    )
    with RunnerThread(replace(spec, handle=flaky), runtime_config(max_wait_ms=1000)):
        wait_until(lambda: Flight.objects.count() == 30, what="the good records")
        wait_until(
            lambda: DeadLetter.objects.filter(produced_at__isnull=False).exists(), what="the letter"
        )
    assert outage["left"] == 0
    assert DeadLetter.objects.count() == 1
    assert len(read_topic(spec.dlq_topic, 2)) == 1


def test_postgres_positions_commit_with_the_batch() -> None:
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(50))
    with RunnerThread(spec):
        wait_until(lambda: Flight.objects.count() == 50, what="50 flights")
        wait_until(lambda: stored_positions(spec) == committed_offsets(spec), what="positions")
    assert sum(stored_positions(spec).values()) == 50


def stored_positions(spec: StreamSpec) -> dict[int, int]:
    rows = StreamOffset.objects.filter(group=spec.group, topic=spec.topic)
    return {row.partition: row.next_offset for row in rows}


def test_stop_finishes_the_current_batch_and_commits_it() -> None:
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(200))
    runner = RunnerThread(spec, runtime_config(max_records=50))
    with runner:
        wait_until(lambda: runner.runner.batches_committed >= 1, what="a first batch")
    applied = Flight.objects.count()
    assert applied >= 50
    assert sum(committed_offsets(spec).values()) == applied


def test_a_dead_letter_too_large_to_send_with_its_headers_goes_out_truncated_and_flagged() -> None:
    """The broker took the record, but the letter (the record plus its dlq.* headers) is over
    what a producer may send: the stream must not fail on it, restart and fail again."""
    spec = isolated(FLIGHTS)
    key = b'{"flight_id":"BIG"}'
    value = b"x" * (16 * 1024 * 1024 - 200)  # just under what the raw producer sends
    publish_raw(spec.topic, [(key, value)])
    publish(spec.topic, flight_messages(30))
    runner = RunnerThread(spec, runtime_config(max_wait_ms=1000))
    with runner:
        wait_until(lambda: sum(committed_offsets(spec).values()) == 31, what="offsets committed")
    assert runner.error is None, runner.error
    (letter,) = read_topic(spec.dlq_topic, 1)
    headers = dict(letter.headers)
    assert headers["dlq.truncated"] == b"true"
    assert headers["dlq.original_value_size"] == str(len(value)).encode()
    assert letter.key == key
    assert 0 < len(letter.value) < runtime_config().dlq_max_bytes
    assert value.startswith(letter.value)
    assert DeadLetter.objects.get().value_text() == value.decode()  # the table keeps it whole


def test_every_dead_letter_of_a_batch_is_on_the_topic_before_its_offsets_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Two letters per relay call, so the batch's five take three.
    monkeypatch.setattr(runtime, "dead_letters_relay", partial(dead_letters_relay, limit=2))
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(30))
    poison = [(f'{{"flight_id":"BAD{n}"}}'.encode(), b"not json") for n in range(5)]
    publish_raw(spec.topic, poison)
    pending_at_commit: list[int] = []

    def committed() -> None:
        pending_at_commit.append(DeadLetter.objects.filter(produced_at=None).count())

    with RunnerThread(spec, runtime_config(max_wait_ms=1000), on_commit=committed):
        wait_until(lambda: sum(committed_offsets(spec).values()) == 35, what="offsets committed")
    assert pending_at_commit and set(pending_at_commit) == {0}, pending_at_commit
    assert len(read_topic(spec.dlq_topic, 10)) == 5


def test_a_failed_relay_is_retried_in_place_and_holds_the_offsets_until_it_succeeds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    failures = {"left": 2}
    commits_while_failing: list[dict[int, int]] = []

    def flaky(**relay: Any) -> int:
        if failures["left"] and DeadLetter.objects.filter(produced_at=None).exists():
            failures["left"] -= 1
            commits_while_failing.append(committed_offsets(spec))
            raise KafkaTimeoutError("no acknowledgement in time")
        return dead_letters_relay(**relay)

    monkeypatch.setattr(runtime, "dead_letters_relay", flaky)
    spec = isolated(FLIGHTS)
    publish(spec.topic, flight_messages(30))
    publish_raw(spec.topic, [(b'{"flight_id":"BAD"}', b"not json")])
    runner = RunnerThread(spec, runtime_config(max_wait_ms=1000))
    with runner:
        wait_until(lambda: sum(committed_offsets(spec).values()) == 31, what="offsets committed")
        assert runner.thread.is_alive() and runner.error is None, runner.error
    assert failures["left"] == 0
    assert commits_while_failing == [{}, {}]
    assert runner.runner.batches_committed == 1
    assert DeadLetter.objects.get().produced_at is not None
