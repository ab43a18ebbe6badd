"""The feed simulator as a separate producer process, for the freshness benchmark.

    python benchmarks/_producer.py '<json config>'

Builds the same world as the benchmark (same spec, seed and `now`), prints READY, then sends
paced changes (warm-up) until a line arrives on stdin, prints `MEASURE <epoch ms>`, sends
paced changes for `seconds`, and prints one JSON line of counts. The simulator stamps each
event with source.ts_ms = the moment it generates it, right before the send. No Django.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.options import SimulatorOptions  # noqa: E402
from simulator.publisher import PRODUCER_TUNING, run_changes  # noqa: E402
from simulator.world import WorldSpec, generate_world  # noqa: E402
from travelbot.streams.kafka import make_producer  # noqa: E402


class RoutingProducer:
    """Sends contract topics to the benchmark's isolated topics and counts what it sent."""

    def __init__(self, producer: Any, topics: dict[str, str]) -> None:
        self.producer, self.topics = producer, topics
        self.records: Counter[str] = Counter()  # per isolated topic, tombstones included
        self.events: Counter[str] = Counter()  # change events only

    def send(self, topic: str, value: Any = None, key: Any = None) -> Any:
        target = self.topics[topic]
        self.records[target] += 1
        if value is not None:
            self.events[target] += 1
        return self.producer.send(target, key=key, value=value)

    def flush(self, timeout: float | None = None) -> None:
        self.producer.flush(timeout=timeout)


def main() -> None:
    config = json.loads(sys.argv[1])
    now = datetime.fromtimestamp(config["now"], UTC)
    world = generate_world(
        WorldSpec().scaled(config["world_fraction"]), seed=config["seed"], now=now
    )
    producer = RoutingProducer(
        make_producer(config["bootstrap_servers"], **PRODUCER_TUNING), config["topics"]
    )
    go = threading.Event()

    def wait_for_go() -> None:
        sys.stdin.readline()
        go.set()

    threading.Thread(target=wait_for_go, daemon=True).start()

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    print("READY", flush=True)
    warm = SimulatorOptions(seed=config["seed"], rate=config["rate"])
    warm_kinds = run_changes(producer, world, warm, stop_event=go, report=report)
    warm_events = dict(producer.events)
    measure_start_ms = time.time() * 1000
    print(f"MEASURE {measure_start_ms:.3f}", flush=True)
    measured = SimulatorOptions(
        seed=config["seed"] + 1, rate=config["rate"], duration_s=config["seconds"]
    )
    kinds = run_changes(producer, world, measured, report=report)
    measure_end_ms = time.time() * 1000
    producer.producer.close(timeout=30)
    measured_events = {t: producer.events[t] - warm_events.get(t, 0) for t in producer.events}
    print(
        json.dumps(
            {
                "measure_start_ms": measure_start_ms,
                "measure_end_ms": measure_end_ms,
                "records": dict(producer.records),
                "measured_events": measured_events,
                "warmup_events": sum(warm_events.values()),
                "kinds": dict(kinds),
                "warmup_kinds": dict(warm_kinds),
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
