"""Several workers on one stream split its partitions; joins and leaves rebalance them, and
the result is the one a single uninterrupted worker reaches."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from harness.streaming import (
    RunnerThread,
    SupervisorThread,
    committed_offsets,
    publish,
    publish_raw,
    read_topic,
    runtime_config,
    servers,
    wait_until,
)
from inventory.models import Flight
from tests.travelbot.test_reliability import Message, expected_state, flight_history, visible_state
from travelbot.models import DeadLetter, RunnerHeartbeat, StreamFailure
from travelbot.streams.kafka import create_topics
from travelbot.streams.registry import BatchResult, stream_named

pytestmark = pytest.mark.django_db(transaction=True)
POISON = [(f'{{"flight_id":"BAD{n}"}}'.encode(), b"not json") for n in range(12)]


def test_workers_joining_and_leaving_mid_stream_lose_nothing_and_apply_nothing_twice(
    settings: Settings,
) -> None:
    settings.KAFKA_TOPIC_PREFIX = f"x{uuid.uuid4().hex[:8]}."
    spec = stream_named("inventory.flights")
    create_topics(
        bootstrap_servers=servers(),
        partitions=3,
        replication_factor=1,
        topics=[spec.topic, spec.dlq_topic],
    )
    history = flight_history(keys=600, versions=12, seed=11)
    feeder = threading.Thread(target=_feed, args=(spec.topic, history), daemon=True)
    config = runtime_config(max_records=300)
    first, second, third = (SupervisorThread(spec, config) for _ in range(3))
    with first, second:
        wait_until(lambda: _owners() == 2, timeout_s=60, what="two workers sharing partitions")
        feeder.start()
        time.sleep(3)
        with third:  # joins mid-stream
            wait_until(lambda: _owners() == 3, timeout_s=60, what="three workers")
            first.supervisor.stop()  # leaves mid-stream
            first.thread.join(timeout=60)
            feeder.join()
            wait_until(
                lambda: visible_state() == expected_state(history),
                timeout_s=120,
                what="the final state",
            )
            wait_until(lambda: DeadLetter.objects.count() == len(POISON), what="the letters")
            wait_until(
                lambda: sum(committed_offsets(spec).values()) == len(history) + len(POISON),
                what="every offset committed",
            )
    assert not StreamFailure.objects.exists()
    assert not DeadLetter.objects.filter(produced_at=None).exists()
    dlq = read_topic(spec.dlq_topic, len(POISON) + 5)
    assert sorted(record.key for record in dlq) == sorted(key for key, _ in POISON)


def _feed(topic: str, history: list[Message]) -> None:
    """The history in 30 chunks, a poison record after every third; the rest at the end."""
    size = len(history) // 30 + 1
    sent = 0
    for number, start in enumerate(range(0, len(history), size)):
        publish(topic, history[start : start + size])
        if number % 3 == 0 and sent < len(POISON):
            publish_raw(topic, [POISON[sent]])
            sent += 1
        time.sleep(0.4)
    publish_raw(topic, POISON[sent:])


def _owners() -> int:
    """Runners that own at least one partition right now."""
    return RunnerHeartbeat.objects.filter(state="running").exclude(partitions=[]).count()


def test_runners_joining_before_every_partition_has_a_position_lose_no_record(
    settings: Settings,
) -> None:
    """A poll that both rebalances and returns records must not drop those records while
    the consumer's position has moved past them: a partition with no stored position yet
    would otherwise be committed past a batch it never applied."""
    settings.KAFKA_TOPIC_PREFIX = f"r{uuid.uuid4().hex[:8]}."
    spec = stream_named("inventory.flights")
    create_topics(
        bootstrap_servers=servers(),
        partitions=6,
        replication_factor=1,
        topics=[spec.topic, spec.dlq_topic],
    )
    history = flight_history(keys=3000, versions=1, seed=5)
    publish(spec.topic, history)

    def slow(events: list[Any]) -> BatchResult:
        time.sleep(0.2)  # the stream is still being read when the others join
        return spec.handle(events)

    # Long polls: the join completes inside the poll that noticed it, which then returns records.
    config = runtime_config(max_records=50, max_wait_ms=3000, idle_poll_ms=5000)
    first = RunnerThread(replace(spec, handle=slow), config)
    others = [RunnerThread(spec, config) for _ in range(2)]
    with first:
        wait_until(lambda: first.runner.batches_committed >= 1, what="the first batch")
        with others[0]:  # each join revokes and reassigns the first runner's partitions
            time.sleep(2)
            with others[1]:
                wait_until(
                    lambda: sum(committed_offsets(spec).values()) == len(history),
                    timeout_s=120,
                    what="every offset committed",
                )
    assert first.error is None and all(other.error is None for other in others)
    assert Flight.objects.count() == len(expected_state(history))
    assert visible_state() == expected_state(history)
