"""A stream's state as staff see it, from its runners' heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from travelbot.selectors import RunnerView, State, StreamStatus, _state

NOW = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


def runner(state: str, *, failures: int = 0) -> RunnerView:
    return RunnerView(
        runner_id="worker-1:inventory.flights",
        hostname="worker-1",
        state=state,
        alive=True,
        heartbeat_at=NOW,
        started_at=NOW - timedelta(seconds=30),
        partitions=[],
        failures=failures,
        last_failure="KafkaConnectionError: 111 ECONNREFUSED" if failures else "",
        last_failure_at=NOW - timedelta(seconds=1) if failures else None,
        next_retry_at=None,
    )


def state_of(*runners: RunnerView) -> tuple[str, str]:
    status = StreamStatus(
        name="inventory.flights",
        topic="inventory.flights",
        group="travelbot",
        dlq_topic="inventory.flights.dlq",
        runners=list(runners),
    )
    return _state(status, now=NOW)


def test_a_runner_starting_for_the_first_time_is_not_down() -> None:
    assert state_of(runner("starting"))[0] == State.IDLE


def test_a_runner_starting_again_after_failures_keeps_the_stream_down() -> None:
    state, reason = state_of(runner("starting", failures=3))
    assert state == State.DOWN
    assert reason.startswith("restarting after 3 failure(s): KafkaConnectionError")


def test_a_running_runner_beside_a_failing_one_keeps_the_stream_up() -> None:
    assert state_of(runner("running"), runner("backoff", failures=2))[0] == State.IDLE
