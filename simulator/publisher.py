"""Publishing the simulated world to Kafka: the snapshot at full speed, then paced changes.

Usable from any Python code (`python -m simulator`, benchmarks, tests): `publish_snapshot`
and `run_changes` take any object with kafka-python's `send` and `flush`.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from kafka.errors import KafkaTimeoutError

from simulator.build import build_sources
from simulator.changes import Change, ChangeGenerator, Item, RawRecord, snapshot_changes
from simulator.customers import CustomerChanges
from simulator.options import SimulatorOptions
from simulator.world import World
from travelbot.streams.kafka import make_producer, make_raw_producer

logger = logging.getLogger(__name__)

Report = Callable[[str], None]

# kafka-python checksums record batches with a pure-Python CRC32C; gzip shrinks the bytes it
# has to checksum (the JSON compresses about 8x), which roughly doubles producer throughput.
PRODUCER_TUNING: dict[str, Any] = {"compression_type": "gzip"}
FLUSH_EVERY_S = 1.0
REPORT_EVERY_S = 10.0
# A stop flushes then closes within the supervisor's 20 s grace period.
FLUSH_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 2.0
# Sleeping less than this between sends costs more in wake-ups than it buys in smoothness.
MIN_TICK_S = 0.002
# Customer systems change far less often than inventory: this share of the change events.
CUSTOMER_SHARE = 0.1
# After a stall (a slow flush, a broker hiccup) catch up at most this much, then drop the debt.
MAX_BACKLOG_S = 1.0


class SendFailed(Exception):
    """Some records were not acknowledged by the broker (each kind was logged once)."""

    def __init__(self, failed: int, counts: Counter[str]) -> None:
        super().__init__(f"{failed} of {counts.total()} records were not delivered")
        self.failed, self.counts = failed, counts


class Producer(Protocol):
    def send(self, topic: str, value: Any = None, key: Any = None) -> Any: ...

    def flush(self, timeout: float | None = None) -> None: ...


class Sender:
    """Routes items to the JSON or the raw producer and counts them by kind and topic."""

    def __init__(
        self, producer: Producer, raw_producer: Producer | None = None, *, topic_prefix: str = ""
    ) -> None:
        self.producer = producer
        self.raw_producer = raw_producer
        self.topic_prefix = topic_prefix
        self.kinds: Counter[str] = Counter()
        self.topics: Counter[str] = Counter()
        self.failed = 0
        self._failed_types: set[type[BaseException]] = set()
        self._lock = threading.Lock()
        self._flushed_at = time.monotonic()

    def send(self, item: Item) -> None:
        target = self.raw_producer if isinstance(item, RawRecord) else self.producer
        if target is None:
            raise ValueError("malformed records need a raw producer (make_raw_producer)")
        future = target.send(self.topic_prefix + item.topic, key=item.key, value=item.value)
        future.add_errback(self._on_error)
        self.kinds[item.kind] += 1
        self.topics[item.topic] += 1

    def _on_error(self, exc: BaseException) -> None:
        # Runs on a producer's I/O thread (one per producer), hence the lock.
        with self._lock:
            self.failed += 1
            first = type(exc) not in self._failed_types
            self._failed_types.add(type(exc))
        if first:
            logger.warning(
                "sending to Kafka failed; further %s errors are only counted",
                type(exc).__name__,
                exc_info=exc,
            )

    def flush(self, timeout_s: float = FLUSH_TIMEOUT_S) -> None:
        """Wait for the records sent so far, at most `timeout_s` for both producers; records
        still unacknowledged then count as one failure."""
        deadline = time.monotonic() + timeout_s
        try:
            self.producer.flush(timeout=timeout_s)
            if self.raw_producer is not None:
                self.raw_producer.flush(timeout=max(0.0, deadline - time.monotonic()))
        except KafkaTimeoutError as exc:
            self._on_error(exc)
        self._flushed_at = time.monotonic()

    def raise_if_failed(self) -> None:
        if self.failed:
            raise SendFailed(self.failed, self.kinds)

    def flush_if_due(self, now: float) -> None:
        if now - self._flushed_at >= FLUSH_EVERY_S:
            self.flush()

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


class Reporter:
    """A summary line every REPORT_EVERY_S seconds and one at the end."""

    def __init__(self, report: Report, sender: Sender, label: str, counts: Counter[str]) -> None:
        self.report, self.sender, self.label, self.counts = report, sender, label, counts
        self.started = time.monotonic()
        self._next = self.started + REPORT_EVERY_S

    def maybe(self, now: float) -> None:
        if now >= self._next:
            self._next = now + REPORT_EVERY_S
            self.report(self.line(now))

    def final(self) -> None:
        self.report(self.line(time.monotonic()))

    def line(self, now: float) -> str:
        total, elapsed = sum(self.counts.values()), max(now - self.started, 1e-9)
        kinds = " ".join(f"{kind}={count}" for kind, count in sorted(self.counts.items()))
        failed = f", {self.sender.failed} failed" if self.sender.failed else ""
        return (
            f"{self.label}: {total} events in {elapsed:.1f}s ({total / elapsed:,.0f}/s"
            f"{failed}) {kinds}"
        ).rstrip()


class Pacer:
    """A token bucket on an absolute schedule, so rounding never accumulates into drift."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate, self.start, self.sent = rate, now, 0

    def due(self, now: float) -> int:
        owed = int((now - self.start) * self.rate) - self.sent
        cap = max(1, int(self.rate * MAX_BACKLOG_S))
        if owed > cap:
            self.sent += owed - cap
            owed = cap
        return max(0, owed)

    def took(self, count: int) -> None:
        """Count `count` records as sent; a step of several records may overdraw the bucket."""
        self.sent += count

    def wait(self, now: float) -> float:
        return max(MIN_TICK_S, self.start + (self.sent + 1) / self.rate - now)


def publish_snapshot(
    producer: Producer,
    world: World,
    *,
    stop_event: threading.Event | None = None,
    report: Report = print,
    topic_prefix: str = "",
) -> int:
    """Send every entity of the world as op r, as fast as the producer goes; returns the count."""
    sender = Sender(producer, topic_prefix=topic_prefix)
    reporter = Reporter(report, sender, "snapshot", sender.topics)
    for count, change in enumerate(snapshot_changes(world), start=1):
        sender.send(change)
        if count % 1000 == 0:  # checking the clock and the event per record would cost throughput
            if stop_event is not None and stop_event.is_set():
                break
            reporter.maybe(time.monotonic())
    sender.flush()
    reporter.final()
    sender.raise_if_failed()
    return sender.total


def run_changes(
    producer: Producer,
    world: World,
    options: SimulatorOptions,
    *,
    stop_event: threading.Event | None = None,
    raw_producer: Producer | None = None,
    report: Report = print,
    topic_prefix: str = "",
    clock: Callable[[], float] = time.time,
    customer_steps: Iterator[list[Item]] | None = None,
) -> Counter[str]:
    """Send changes at the options' rate (events/s) until their duration passes, `stop_event`
    is set or the world has nothing left to change. Faults count towards the rate. Returns
    counts by kind.

    A stop takes effect between generator steps, so the records of one change (a withdrawn
    flight and its fares, say) are all sent. Raises SendFailed if the broker refused any.
    """
    sender = Sender(producer, raw_producer, topic_prefix=topic_prefix)
    if options.rate <= 0:
        return sender.kinds
    seed = options.seed
    steps = ChangeGenerator(world, seed=seed, faults=options.faults, clock=clock).steps()
    if customer_steps is not None:
        steps = interleaved(steps, customer_steps, share=CUSTOMER_SHARE, seed=seed)
    stop = stop_event or threading.Event()
    pacer = Pacer(options.rate, time.monotonic())
    reporter = Reporter(report, sender, "changes", sender.kinds)
    deadline = math.inf if options.duration_s is None else pacer.start + options.duration_s
    while not stop.is_set() and time.monotonic() < deadline:
        if not _send_due(sender, steps, pacer):
            break
        now = time.monotonic()
        sender.flush_if_due(now)
        reporter.maybe(now)
        stop.wait(min(pacer.wait(now), max(0.0, deadline - now)))
    sender.flush()
    reporter.final()
    sender.raise_if_failed()
    return sender.kinds


def interleaved(
    inventory: Iterator[list[Item]], customers: Iterator[list[Item]], *, share: float, seed: int
) -> Iterator[list[Item]]:
    """Inventory steps with a `share` of customer steps mixed in at random."""
    rng = random.Random(seed + 1)
    while True:
        step = next(customers if rng.random() < share else inventory, None)
        if step is None:
            return
        yield step


def publish_items(
    producer: Producer, items: list[Change], *, report: Report, label: str, topic_prefix: str = ""
) -> int:
    """Send a prepared list (the customer snapshot) as fast as the producer goes."""
    sender = Sender(producer, topic_prefix=topic_prefix)
    reporter = Reporter(report, sender, label, sender.topics)
    for item in items:
        sender.send(item)
    sender.flush()
    reporter.final()
    sender.raise_if_failed()
    return sender.total


def _send_due(sender: Sender, steps: Iterator[list[Item]], pacer: Pacer) -> bool:
    """Send whole steps until the schedule is paid; False once the generator is exhausted."""
    due = pacer.due(time.monotonic())
    sent = 0
    while sent < due:
        step = next(steps, None)
        if step is None:
            pacer.took(sent)
            return False
        for item in step:
            sender.send(item)
        sent += len(step)
    pacer.took(sent)
    return True


def simulate(
    options: SimulatorOptions,
    *,
    bootstrap_servers: list[str],
    topic_prefix: str = "",
    stop_event: threading.Event | None = None,
    report: Report = print,
) -> Counter[str]:
    """Generate the world (and the options' customers, with the demo traveller), publish its
    snapshot, then changes; the producers are always closed.
    Raises SendFailed if the broker refused any record."""
    started = time.monotonic()
    sources = build_sources(options)
    world, people_snapshot = sources.world, sources.people_snapshot
    sizes = ", ".join(f"{count} {name}" for name, count in sources.size().items())
    report(f"world: {sizes} (seed {options.seed}) in {time.monotonic() - started:.1f}s")
    customer_steps: Iterator[list[Item]] | None = None
    if options.people:
        customer_steps = CustomerChanges(world, sources.people, seed=options.seed).steps()
    with contextlib.ExitStack() as producers:
        producer = make_producer(bootstrap_servers, **PRODUCER_TUNING)
        producers.callback(producer.close, timeout=CLOSE_TIMEOUT_S)
        raw_producer = None
        if options.faults.malformed_ratio:
            raw_producer = make_raw_producer(bootstrap_servers)
            producers.callback(raw_producer.close, timeout=CLOSE_TIMEOUT_S)
        if options.snapshot:
            publish_snapshot(
                producer, world, stop_event=stop_event, report=report, topic_prefix=topic_prefix
            )
            if options.people:
                publish_items(
                    producer,
                    people_snapshot,
                    report=report,
                    label="customers",
                    topic_prefix=topic_prefix,
                )
        return run_changes(
            producer,
            world,
            options,
            stop_event=stop_event,
            raw_producer=raw_producer,
            report=report,
            topic_prefix=topic_prefix,
            customer_steps=customer_steps,
        )


def stop_on_signals(stop_event: threading.Event) -> None:
    """SIGINT and SIGTERM set the event; the loops then stop, flush and close the producers."""

    def handle(signum: int, frame: Any) -> None:
        stop_event.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, handle)
