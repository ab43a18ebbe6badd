"""Crash and outage behaviour of `manage.py consume`, run as a real process."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from devstack.stack import Infrastructure
from harness.streaming import committed_offsets, publish, servers, wait_until
from inventory.models import Flight
from inventory.streams import STREAMS
from tests.factories import envelope, flight_row
from travelbot.models import StreamBatch
from travelbot.streams.kafka import create_topics

ROOT = Path(__file__).resolve().parents[2]
FLIGHTS = next(spec for spec in STREAMS if spec.name == "inventory.flights")
pytestmark = pytest.mark.django_db(transaction=True)

Message = tuple[dict[str, str], dict[str, object]]


def flight_history(*, keys: int, versions: int, seed: int) -> list[Message]:
    """Several versions per key, with duplicates and stale replays sprinkled in."""
    rng = random.Random(seed)
    messages: list[Message] = []
    for version in range(1, versions + 1):
        for n in range(keys):
            flight_id = f"RL{n}-2026-12-01"
            gate = f"G{rng.randint(1, 60)}"
            message = (
                {"flight_id": flight_id},
                envelope("u", flight_row(flight_id, gate=gate), lsn=version * 10),
            )
            messages.append(message)
            if rng.random() < 0.05:
                messages.append(message)  # a duplicate
            if version > 1 and rng.random() < 0.05:
                messages.append(
                    (
                        {"flight_id": flight_id},
                        envelope("u", flight_row(flight_id, gate="STALE"), lsn=version * 10 - 15),
                    )
                )
    return messages


def expected_state(messages: list[Message]) -> dict[str, tuple[int, str]]:
    state: dict[str, tuple[int, str]] = {}
    for key, value in messages:
        lsn = value["source"]["lsn"]  # type: ignore[index]
        if key["flight_id"] not in state or lsn > state[key["flight_id"]][0]:
            state[key["flight_id"]] = (lsn, value["after"]["gate"])  # type: ignore[index]
    return state


def visible_state() -> dict[str, tuple[int, str]]:
    return {f.flight_id: (f.version, str(f.gate)) for f in Flight.objects.all()}


_started: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def no_process_outlives_its_test() -> Iterator[None]:
    yield
    while _started:
        process = _started.pop()
        if process.poll() is None:
            process.kill()
            process.wait()


def consumer_process(prefix: str, *, batch: int) -> subprocess.Popen[bytes]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "KAFKA_TOPIC_PREFIX": prefix,
        "STREAM_BATCH_MAX_RECORDS": str(batch),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "consume", FLIGHTS.name],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _started.append(process)
    return process


def prefixed_topics() -> str:
    prefix = f"t{uuid.uuid4().hex[:8]}."
    create_topics(
        bootstrap_servers=servers(),
        partitions=3,
        replication_factor=1,
        topics=[prefix + FLIGHTS.topic, prefix + FLIGHTS.dlq_topic],
    )
    return prefix


def stop_gracefully(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def test_a_worker_killed_mid_batch_and_restarted_ends_in_the_uninterrupted_state() -> None:
    prefix = prefixed_topics()
    messages = flight_history(keys=2000, versions=10, seed=1)
    publish(prefix + FLIGHTS.topic, messages)
    first = consumer_process(prefix, batch=200)
    wait_until(lambda: StreamBatch.objects.count() >= 5, timeout_s=60, what="a few batches")
    first.kill()
    first.wait()
    assert visible_state() != expected_state(messages), "the worker finished before it was killed"
    second = consumer_process(prefix, batch=200)
    wait_until(
        lambda: visible_state() == expected_state(messages),
        timeout_s=120,
        what="the restarted worker to catch up",
    )
    assert stop_gracefully(second) == 0


def test_a_postgres_outage_is_waited_out_and_nothing_is_committed_early(
    infrastructure: Infrastructure,
) -> None:
    prefix = prefixed_topics()
    messages = flight_history(keys=300, versions=40, seed=2)
    worker = consumer_process(prefix, batch=500)
    feeder = threading.Thread(target=_publish_slowly, args=(prefix + FLIGHTS.topic, messages, 14.0))
    feeder.start()
    spec_offsets = _PrefixedSpec(prefix)
    wait_until(lambda: Flight.objects.exists(), timeout_s=60, what="the first rows")
    connection.close()
    infrastructure.postgres.stop()
    try:
        time.sleep(1.0)
        offsets_when_down = committed_offsets(spec_offsets)  # type: ignore[arg-type]
        time.sleep(9.0)
        assert committed_offsets(spec_offsets) == offsets_when_down  # type: ignore[arg-type]
        assert worker.poll() is None, "the worker gave up during the outage"
    finally:
        infrastructure.postgres.start()
    feeder.join()
    wait_until(
        lambda: visible_state() == expected_state(messages),
        timeout_s=120,
        what="every event after the outage",
    )
    assert sum(committed_offsets(spec_offsets).values()) > sum(offsets_when_down.values())  # type: ignore[arg-type]
    assert stop_gracefully(worker) == 0


class _PrefixedSpec:
    def __init__(self, prefix: str) -> None:
        self.topic = prefix + FLIGHTS.topic
        self.group = prefix + FLIGHTS.group


def _publish_slowly(topic: str, messages: list[Message], seconds: float) -> None:
    chunks = 40
    size = len(messages) // chunks + 1
    for start in range(0, len(messages), size):
        publish(topic, messages[start : start + size])
        time.sleep(seconds / chunks)


assert settings  # the settings module must be configured before these tests import models
