"""Every stream runs or is visibly down: restarts, heartbeats, stalls, halts and resumes.

Streams here are the registered ones under a fresh KAFKA_TOPIC_PREFIX, so the status API
(which reads the registry) reports exactly the runners these tests start.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from pytest_django.fixtures import Settings

from harness.streaming import (
    SupervisorThread,
    committed_offsets,
    publish,
    publish_raw,
    runtime_config,
    servers,
    wait_until,
)
from inventory.models import Flight
from tests.factories import envelope, flight_row
from travelbot.models import DeadLetter, RunnerHeartbeat, StreamFailure, StreamState
from travelbot.selectors import streams_down
from travelbot.streams.kafka import create_topics
from travelbot.streams.registry import BatchResult, StreamSpec, stream_named

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flights(settings: Settings) -> Iterator[StreamSpec]:
    """inventory.flights under a fresh topic prefix, its topics created."""
    settings.KAFKA_TOPIC_PREFIX = f"s{uuid.uuid4().hex[:8]}."
    spec = stream_named("inventory.flights")
    create_topics(
        bootstrap_servers=servers(),
        partitions=3,
        replication_factor=1,
        topics=[spec.topic, spec.dlq_topic],
    )
    yield spec


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(User.objects.create_user("ops", is_staff=True))
    return client


def status_of(client: Client, name: str = "inventory.flights") -> dict[str, Any]:
    streams = client.get("/api/streams/status").json()["streams"]
    return next(s for s in streams if s["stream"] == name)


def messages(count: int, prefix: str = "SV") -> list[tuple[dict[str, str], dict[str, object]]]:
    return [
        ({"flight_id": f"{prefix}{n}"}, envelope("c", flight_row(f"{prefix}{n}"), lsn=n + 1))
        for n in range(count)
    ]


def test_a_failing_handler_is_restarted_with_backoff_and_shown_down_until_it_recovers(
    flights: StreamSpec, staff: Client
) -> None:
    broken = threading.Event()
    broken.set()

    def handler(events: list[Any]) -> BatchResult:
        if broken.is_set():
            raise RuntimeError("bug in the handler")
        return flights.handle(events)

    publish(flights.topic, messages(20))
    spec = replace(flights, handle=handler)
    with SupervisorThread(spec, backoff_initial_s=0.2, backoff_max_s=1.0):
        wait_until(lambda: StreamFailure.objects.count() >= 3, what="repeated failures")
        status = status_of(staff)
        assert status["state"] == "down", status
        assert "RuntimeError: bug in the handler" in status["state_reason"]
        assert status["failures"]["total"] >= 3
        assert status["failures"]["recent"][0]["exception"] == "RuntimeError"
        broken.clear()
        wait_until(lambda: Flight.objects.count() == 20, what="the stream to recover")
        wait_until(lambda: status_of(staff)["state"] == "flowing", what="flowing again")
    assert sum(committed_offsets(flights).values()) == 20


def test_a_runner_keeps_a_heartbeat_with_its_partitions(flights: StreamSpec) -> None:
    with SupervisorThread(flights) as running:
        runner_id = running.supervisor.runner_id
        wait_until(
            lambda: RunnerHeartbeat.objects.filter(
                runner_id=runner_id, state="running", partitions=[0, 1, 2]
            ).exists(),
            what="a heartbeat with all three partitions",
        )
    assert RunnerHeartbeat.objects.get(runner_id=runner_id).state == "stopped"


def test_a_stream_with_lag_and_no_progress_is_stalled_then_down(
    flights: StreamSpec, staff: Client, settings: Settings
) -> None:
    settings.STREAM_STALL_AFTER_S = 1.0
    settings.STREAM_RUNNER_TIMEOUT_S = 6.0
    stuck = threading.Event()

    def handler(events: list[Any]) -> BatchResult:
        stuck.wait(30)  # a handler blocked on a lock: polls stop, the lag stays
        return flights.handle(events)

    publish(flights.topic, messages(30))
    with SupervisorThread(replace(flights, handle=handler)):
        wait_until(lambda: status_of(staff)["state"] == "stalled", what="stalled")
        assert "records waiting and no batch committed" in status_of(staff)["state_reason"]
        wait_until(lambda: status_of(staff)["state"] == "down", what="down (no heartbeat)")
        assert "no heartbeat from" in status_of(staff)["state_reason"]
        stuck.set()
        wait_until(lambda: Flight.objects.count() == 30, what="the stream to go on")


def test_a_halted_stream_resumes_when_staff_say_so_without_a_restart(
    flights: StreamSpec, staff: Client
) -> None:
    publish_raw(flights.topic, [(b'{"flight_id":"X"}', b"garbage")] * 40)
    config = runtime_config(max_wait_ms=1000)
    with SupervisorThread(flights, config) as running:
        wait_until(lambda: status_of(staff)["state"] == "halted", what="the halt")
        assert "40 of 40 records in one batch are poison" in status_of(staff)["state_reason"]
        assert RunnerHeartbeat.objects.get(runner_id=running.supervisor.runner_id).state == (
            "halted"
        )
        assert committed_offsets(flights) == {}
        response = staff.post(
            "/staff/streams/inventory.flights/resume", {"mode": "dead_letter"}, follow=True
        )
        assert "resumed (dead-letter the batch" in response.content.decode()
        wait_until(lambda: sum(committed_offsets(flights).values()) == 40, what="the batch")
        assert DeadLetter.objects.filter(produced_at__isnull=False).count() == 40
        assert status_of(staff)["state"] in {"flowing", "idle"}
    state = StreamState.objects.get(stream="inventory.flights")
    assert state.resumed_by is not None and state.halted_at is None


def test_the_health_check_fails_while_a_stream_is_down(flights: StreamSpec) -> None:
    with pytest.raises(SystemExit) as exited:
        call_command("streams_check")
    assert exited.value.code == 1
    with SupervisorThread(flights):
        wait_until(
            lambda: RunnerHeartbeat.objects.filter(state="running").exists(), what="a runner"
        )
        down = streams_down()
        assert "inventory.flights" not in down and "inventory.fares" in down
