"""Kafka faults on a broker of the test's own: unreachable at start, paused under load, a
rebalance during a batch, a dead-letter produce that fails, a restart that empties its log.

Each ends in the state an uninterrupted run reaches (nothing lost, nothing applied twice in
effect), and the status API says what is happening while it happens.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import replace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings

from devstack.servers import KafkaBroker
from harness.pytest_plugin import METRICS_TOKEN
from harness.streaming import (
    SupervisorThread,
    committed_offsets,
    publish,
    publish_raw,
    read_topic,
    runtime_config,
    wait_until,
)
from inventory.models import Flight
from tests.factories import envelope, flight_row
from tests.travelbot.test_reliability import Message, expected_state, flight_history, visible_state
from travelbot.models import DeadLetter, StreamFailure, StreamState
from travelbot.streams.kafka import create_topics
from travelbot.streams.registry import BatchResult, StreamSpec, stream_named

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("ops", is_staff=True))
    return client


def flights_on(broker: KafkaBroker, *, partitions: int = 3) -> StreamSpec:
    spec = stream_named("inventory.flights")
    create_topics(
        bootstrap_servers=[broker.bootstrap],
        partitions=partitions,
        replication_factor=1,
        topics=[spec.topic, spec.dlq_topic],
    )
    return spec


def config_for(broker: KafkaBroker, **overrides: Any) -> Any:
    return runtime_config(bootstrap_servers=[broker.bootstrap], kafka_timeout_ms=3000, **overrides)


def status_of(client: Client) -> dict[str, Any]:
    streams = client.get("/api/streams/status").json()["streams"]
    return next(s for s in streams if s["stream"] == "inventory.flights")


def messages(count: int, prefix: str, first_lsn: int = 1) -> list[Message]:
    return [
        (
            {"flight_id": f"{prefix}{n}"},
            envelope("c", flight_row(f"{prefix}{n}"), lsn=first_lsn + n),
        )
        for n in range(count)
    ]


def test_a_runner_whose_broker_is_unreachable_at_start_recovers_when_it_appears(
    broker: KafkaBroker, staff: Client
) -> None:
    config = config_for(broker)
    with SupervisorThread(
        stream_named("inventory.flights"), config, backoff_initial_s=0.5, backoff_max_s=2
    ):
        wait_until(lambda: StreamFailure.objects.exists(), what="a recorded failure")
        status = status_of(staff)
        assert status["state"] == "down", status
        assert "restarting after" in status["state_reason"]
        assert status["lag"]["error"]
        broker.start()
        spec = flights_on(broker)
        publish(spec.topic, messages(20, "UP"))
        wait_until(lambda: Flight.objects.count() == 20, timeout_s=60, what="the stream to start")
        wait_until(lambda: status_of(staff)["state"] == "flowing", what="flowing")


def test_a_broker_paused_for_10_s_under_load_loses_nothing_and_status_never_blocks(
    broker: KafkaBroker, staff: Client
) -> None:
    broker.start()
    spec = flights_on(broker)
    history = flight_history(keys=300, versions=30, seed=7)
    feeder = threading.Thread(target=_publish_slowly, args=(spec.topic, history, 16.0))
    with SupervisorThread(spec, config_for(broker), backoff_initial_s=0.5, backoff_max_s=2):
        feeder.start()
        wait_until(lambda: Flight.objects.count() > 0, timeout_s=60, what="the first rows")
        assert broker.process is not None
        os.kill(broker.process.pid, signal.SIGSTOP)
        paused_at = time.monotonic()
        try:
            time.sleep(1.0)
            for path, headers in (
                ("/api/streams/status", {}),
                ("/metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"}),
                ("/readyz", {}),
                ("/staff/streams/", {}),
            ):
                started = time.monotonic()
                staff.get(path, headers=headers)
                assert time.monotonic() - started < 4.0, f"{path} blocked on the paused broker"
            assert status_of(staff)["lag"]["error"], "lag figures from a paused broker"
            time.sleep(max(0.0, 10.0 - (time.monotonic() - paused_at)))
        finally:
            os.kill(broker.process.pid, signal.SIGCONT)
        feeder.join()
        wait_until(
            lambda: visible_state() == expected_state(history),
            timeout_s=120,
            what="every event after the pause",
        )


def _publish_slowly(topic: str, messages: list[Message], seconds: float) -> None:
    chunks = 40
    size = len(messages) // chunks + 1
    for start in range(0, len(messages), size):
        publish(topic, messages[start : start + size])
        time.sleep(seconds / chunks)


def test_a_rebalance_during_a_batch_applies_nothing_twice_in_effect(broker: KafkaBroker) -> None:
    broker.start()
    spec = flights_on(broker)
    history = flight_history(keys=400, versions=8, seed=3)
    inside = threading.Event()

    def slow(events: list[Any]) -> BatchResult:
        inside.set()
        time.sleep(1.5)  # long enough for a second worker to join mid-batch
        return spec.handle(events)

    publish(spec.topic, history)
    config = config_for(broker, max_records=500)
    with SupervisorThread(replace(spec, handle=slow), config) as first:
        wait_until(inside.is_set, timeout_s=60, what="the first batch")
        with SupervisorThread(spec, config):
            wait_until(
                lambda: visible_state() == expected_state(history),
                timeout_s=120,
                what="both workers to finish",
            )
        runner = first.supervisor.runner
        assert runner is not None
    assert not StreamFailure.objects.exists(), list(StreamFailure.objects.values("message"))


def test_a_dead_letter_produce_that_fails_holds_the_offsets_until_it_is_acknowledged(
    broker: KafkaBroker, staff: Client, settings: Settings
) -> None:
    settings.STREAM_DLQ_TIMEOUT_S = 2.0
    broker.start()
    spec = flights_on(broker)
    publish(spec.topic, messages(30, "OK"))
    poison = [(f'{{"flight_id":"BAD{n}"}}'.encode(), b"not json") for n in range(3)]
    publish_raw(spec.topic, poison)
    paused = threading.Event()

    def pause_broker_once(events: list[Any]) -> BatchResult:
        if not paused.is_set():  # the broker stops answering right before the letters go out
            paused.set()
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGSTOP)
        return spec.handle(events)

    config = config_for(broker, max_wait_ms=1000)
    with SupervisorThread(replace(spec, handle=pause_broker_once), config, backoff_initial_s=0.5):
        try:
            wait_until(lambda: StreamFailure.objects.exists(), what="the failed produce")
            assert DeadLetter.objects.filter(produced_at=None).count() == 3
            assert status_of(staff)["state"] == "down"
        finally:
            assert broker.process is not None
            os.kill(broker.process.pid, signal.SIGCONT)
        wait_until(
            lambda: not DeadLetter.objects.filter(produced_at=None).exists(),
            timeout_s=60,
            what="the letters to be relayed",
        )
        wait_until(lambda: sum(committed_offsets(spec).values()) == 33, what="the offsets")
    assert Flight.objects.count() == 30
    keys = {record.key for record in read_topic(spec.dlq_topic, 10)}
    assert keys == {key for key, _ in poison}
    assert DeadLetter.objects.count() == 3


def test_a_broker_restarted_empty_is_detected_and_read_again_from_its_start(
    broker: KafkaBroker, staff: Client
) -> None:
    broker.start()
    spec = flights_on(broker, partitions=1)
    old_poison = (b'{"flight_id":"OLD"}', b"not json")
    publish_raw(spec.topic, [old_poison])
    publish(spec.topic, messages(60, "A"))
    with SupervisorThread(spec, config_for(broker), backoff_initial_s=0.5, backoff_max_s=2):
        wait_until(lambda: Flight.objects.count() == 60, timeout_s=60, what="the first log")
        broker.stop()
        broker.start()  # the same address, an empty log: offsets start from 0 again
        flights_on(broker, partitions=1)
        new_poison = (b'{"flight_id":"NEW"}', b"not json")
        publish_raw(spec.topic, [new_poison])  # offset 0 again, like the old letter
        publish(spec.topic, messages(12, "B", first_lsn=100))
        wait_until(lambda: Flight.objects.count() == 72, timeout_s=90, what="the new log")
        wait_until(
            lambda: DeadLetter.objects.filter(produced_at__isnull=False).count() == 2,
            what="both letters",
        )
        reset = status_of(staff)["log_reset"]
        assert reset is not None and "was reset" in reset["detail"], reset
    assert StreamState.objects.get(stream=spec.name).log_reset_at is not None
    assert {letter.offset for letter in DeadLetter.objects.all()} == {0}
