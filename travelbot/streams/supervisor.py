"""Keeps one stream's runner alive, or visibly down: restarts, backoff, heartbeats, halts.

- Any error that ends a runner (the broker unreachable, a dead-letter produce refused, a
  handler bug, an error from poll) is recorded (time, exception, count) and the runner is
  started again after a capped exponential backoff. Postgres holds each partition's place,
  so a restart loses nothing and applies nothing twice in effect.
- A heartbeat row per runner says it is alive (its last poll), what it owns and how it
  fails; the stream-health page reads it.
- A halted runner (too much poison) waits, still beating, until staff resume the stream.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from itertools import count

from django.conf import settings
from django.db import DatabaseError, connection
from django.utils import timezone

from travelbot.models import RunnerHeartbeat, StreamState
from travelbot.services import Heartbeat, runner_failure_record, runner_heartbeat_record
from travelbot.streams.registry import StreamSpec
from travelbot.streams.runtime import RuntimeConfig, StreamHalted, StreamRunner

logger = logging.getLogger(__name__)
State = RunnerHeartbeat.State
# A restarted runner counts as recovering (its stream down) until it commits a batch or has
# polled without failing for this long: a crash loop must not look like a running stream.
RECOVERED_AFTER_S = 10.0
_numbers = count(1)


def new_runner_id(stream: str) -> str:
    """Unique per process and stream: host, pid and a counter (tests run several per process)."""
    return f"{socket.gethostname()}:{os.getpid()}:{next(_numbers)}:{stream}"


class RunnerHealth:
    """The heartbeat of one runner, written at most every `interval_s` unless forced."""

    def __init__(self, *, stream: str, runner_id: str, interval_s: float) -> None:
        now = timezone.now()
        self.interval_s = interval_s
        self._written_at = 0.0
        self._restarted_at: float | None = None
        self.beat_state = Heartbeat(
            runner_id=runner_id,
            stream=stream,
            hostname=socket.gethostname(),
            pid=os.getpid(),
            state=State.STARTING,
            started_at=now,
            last_progress_at=None,
            partitions=[],
            failures=0,
            last_failure_at=None,
            last_failure="",
            next_retry_at=None,
        )

    def beat(
        self, *, state: str | None = None, partitions: list[int] | None = None, force: bool = False
    ) -> None:
        if state is not None:
            force = force or state != self.beat_state.state
            self.beat_state.state = state
        if partitions is not None:
            self.beat_state.partitions = partitions
        if force or time.monotonic() - self._written_at >= self.interval_s:
            self._write(lambda: runner_heartbeat_record(self.beat_state))

    def polled(self, partitions: list[int]) -> None:
        recovering = self._restarted_at is not None and (
            time.monotonic() - self._restarted_at < RECOVERED_AFTER_S
        )
        if not recovering:
            self._restarted_at = None
        self.beat(state=State.RECOVERING if recovering else State.RUNNING, partitions=partitions)

    def progressed(self) -> None:
        self.beat_state.last_progress_at = timezone.now()
        self._restarted_at = None

    def restarting(self) -> None:
        """A new runner replaces one that failed: it is recovering until it proves itself."""
        if self.beat_state.failures:
            self._restarted_at = time.monotonic()

    def failed(self, exception: BaseException, *, retry_in_s: float) -> None:
        now = timezone.now()
        beat = self.beat_state
        beat.failures += 1
        beat.state = State.BACKOFF
        beat.partitions = []
        beat.last_failure_at = now
        beat.last_failure = f"{type(exception).__name__}: {exception}"
        beat.next_retry_at = now + timedelta(seconds=retry_in_s)
        self._write(lambda: runner_failure_record(beat=beat, exception=exception))

    def _write(self, write: Callable[[], None]) -> None:
        try:
            write()
            self._written_at = time.monotonic()
        except DatabaseError:
            # Postgres is down: the page cannot be read either. Try again at the next beat.
            logger.warning("stream %s: heartbeat not recorded", self.beat_state.stream)
            connection.close()


class StreamSupervisor:
    """Runs a stream's runner in the calling thread until stop(), restarting it on failure."""

    def __init__(
        self,
        spec: StreamSpec,
        config: RuntimeConfig,
        *,
        runner_id: str | None = None,
        backoff_initial_s: float | None = None,
        backoff_max_s: float | None = None,
    ) -> None:
        self.spec = spec
        self.config = config
        self.runner_id = runner_id or new_runner_id(spec.name)
        self.health = RunnerHealth(
            stream=spec.name,
            runner_id=self.runner_id,
            interval_s=settings.STREAM_HEARTBEAT_INTERVAL_S,
        )
        self.backoff_initial_s = backoff_initial_s or settings.STREAM_RESTART_BACKOFF_S
        self.backoff_max_s = backoff_max_s or settings.STREAM_RESTART_BACKOFF_MAX_S
        self.runner: StreamRunner | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        if self.runner is not None:
            self.runner.stop()

    def run(self) -> None:
        failures_in_a_row = 0
        accept_poison = False
        self.health.beat(state=State.STARTING, force=True)
        while not self._stop.is_set():
            runner = self._new_runner(accept_poison)
            accept_poison = False
            try:
                runner.run()
            except StreamHalted:
                self.health.beat(state=State.HALTED, partitions=[], force=True)
                mode = self._await_resume()
                accept_poison = mode == StreamState.ResumeMode.DEAD_LETTER
                continue
            except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
                failures_in_a_row = 1 if runner.batches_committed else failures_in_a_row + 1
                delay = min(
                    self.backoff_max_s, self.backoff_initial_s * 2 ** (failures_in_a_row - 1)
                )
                logger.exception(
                    "stream %s failed (%d in a row); restarting in %.1fs",
                    self.spec.name,
                    failures_in_a_row,
                    delay,
                )
                self.health.failed(exc, retry_in_s=delay)
                self._wait(delay, state=State.BACKOFF)
                continue
            break
        self.health.beat(state=State.STOPPED, partitions=[], force=True)
        connection.close()  # this thread's own connection (the heartbeats')

    def _new_runner(self, accept_poison: bool) -> StreamRunner:
        self.runner = StreamRunner(
            self.spec,
            self.config,
            client_id=self.runner_id,
            on_poll=self.health.polled,
            on_commit=self.health.progressed,
            accept_poison_once=accept_poison,
        )
        if self._stop.is_set():
            self.runner.stop()
        self.health.restarting()
        self.health.beat(state=State.STARTING)
        return self.runner

    def _wait(self, seconds: float, *, state: str) -> None:
        deadline = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            self.health.beat(state=state)
            self._stop.wait(min(1.0, max(0.0, deadline - time.monotonic())))

    def _await_resume(self) -> str:
        """Block (beating) until staff resume the stream; its mode, or '' when stopping."""
        while not self._stop.wait(1.0):
            self.health.beat(state=State.HALTED)
            try:
                state = StreamState.objects.filter(stream=self.spec.name).first()
            except DatabaseError:
                connection.close()
                continue
            if state is None or state.halted_at is None:
                logger.info("stream %s resumed by staff", self.spec.name)
                return state.resume_mode if state else ""
        return ""
