"""Apply throughput of one and two worker processes against a bare consumer loop (the ceiling).

The same N mixed inventory records (default 100,000; the apply_throughput workload: snapshot
creates, several versions of hot keys, deletes with tombstones, 1% duplicates, 1% stale
replays) are produced to fresh topics for every run. Then consumer processes start, each
running the four inventory streams in threads:

- bare: `_apply_process.py bare`, one process: poll, json.loads, highest lsn per key, one
  unnest upsert, commit, commit offsets. Nothing else: the ceiling for a Python consumer;
- runtime x1: one process of the stream runtime (StreamRunners, as in a Celery worker):
  typed decoding and validation, source-system ownership, dead letters, Postgres positions,
  batch figures;
- runtime x2: two such processes in the same consumer groups (3 partitions per topic).

A run ends when every table holds the final state computed from the events. events/s =
records / (last commit - first fetch), across processes (epoch clocks). The variants
alternate within each repeat and medians are quoted.

    python benchmarks/scale_out.py [--events 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402

VARIANTS = {"bare": ("bare", 1), "runtime x1": ("runtime", 1), "runtime x2": ("runtime", 2)}
# How often the final state is checked: counting every table costs Postgres CPU that the
# consumers compete for, so only unfinished tables are counted, and not too often.
CHECK_EVERY_S = 0.25
TARGET_RATIO = 0.9
PROCESS = Path(__file__).resolve().parent / "_apply_process.py"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--output", default="scale_out.json")
    return parser.parse_args(argv)


def run_variant(name: str, workload: Any, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks._runners import produce, table_state
    from benchmarks._workload import TOPIC_TABLE
    from travelbot.streams.kafka import create_topics
    from travelbot.streams.registry import registered_streams

    mode, processes = VARIANTS[name]
    _stack.truncate_inventory()
    prefix = f"so{uuid.uuid4().hex[:8]}."
    topics = [prefix + spec.contract_topic for spec in registered_streams().values()]
    create_topics(
        bootstrap_servers=_servers(),
        partitions=3,
        replication_factor=1,
        topics=topics + [t + ".dlq" for t in topics],
    )
    produce(
        {prefix + topic: records for topic, records in workload.records.items()},
        linger_ms=20,
        batch_size=256 * 1024,
        compression_type="gzip",
    )
    env = {**os.environ, "KAFKA_TOPIC_PREFIX": prefix}
    workers = [
        subprocess.Popen(
            [sys.executable, str(PROCESS), mode], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(processes)
    ]
    for worker in workers:
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
    started = time.time()
    deadline = time.monotonic() + args.timeout
    expected = {TOPIC_TABLE[t]: s.as_tuple() for t, s in workload.expected.items()}
    while time.monotonic() < deadline:
        expected = {t: state for t, state in expected.items() if table_state(t) != state}
        if not expected:
            break
        time.sleep(CHECK_EVERY_S)
    else:
        _stop(workers)
        raise RuntimeError(f"{name} did not reach the final state in {args.timeout:.0f}s")
    reports = _stop(workers)
    first = min(t["first_fetch"] for r in reports for t in r.values() if t["first_fetch"])
    last = max(t["last_commit"] for r in reports for t in r.values() if t["last_commit"])
    records = workload.total
    return {
        "variant": name,
        "processes": processes,
        "records": records,
        "records_committed": sum(t["records"] for r in reports for t in r.values()),
        "group_join_s": round(first - started, 3),
        "apply_s": round(last - first, 3),
        "events_per_s": round(records / (last - first), 1),
        "per_process": reports,
    }


def _stop(workers: list[subprocess.Popen[str]]) -> list[dict[str, Any]]:
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    reports = []
    for worker in workers:
        out, _ = worker.communicate(timeout=60)
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports


def _servers() -> list[str]:
    return os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(",")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    _stack.setup()
    from benchmarks._workload import build_mixed

    workload = build_mixed(args.events, seed=args.seed)
    variants = [name.strip() for name in args.variants.split(",")]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    started = time.monotonic()
    for repeat in range(args.repeats):
        for name in variants:
            result = run_variant(name, workload, args)
            runs[name].append(result)
            print(
                f"  #{repeat + 1} {name}: {result['events_per_s']:,.0f} events/s "
                f"({result['records']:,} in {result['apply_s']:.2f}s)",
                flush=True,
            )
    medians = {name: _stack.median([r["events_per_s"] for r in rs]) for name, rs in runs.items()}
    pairs = {
        "runtime_x1_vs_bare": ("runtime x1", "bare"),
        "runtime_x2_vs_bare": ("runtime x2", "bare"),
        "runtime_x2_vs_x1": ("runtime x2", "runtime x1"),
    }
    ratios = {
        name: round(medians[a] / medians[b], 3)
        for name, (a, b) in pairs.items()
        if a in medians and b in medians
    }
    print()
    print(
        _stack.table(
            ["variant", "runs (events/s)", "median events/s"],
            [
                [n, " / ".join(f"{r['events_per_s']:,.0f}" for r in rs), medians[n]]
                for n, rs in runs.items()
            ],
            title=f"Apply throughput, {workload.total:,} records, medians of {args.repeats}",
        )
    )
    if "runtime_x1_vs_bare" in ratios:
        met = ratios["runtime_x1_vs_bare"] >= TARGET_RATIO
        print(
            f"\none worker / bare loop: {ratios['runtime_x1_vs_bare']:.2f}x "
            f"(target >= {TARGET_RATIO}: {'MET' if met else 'MISSED'})"
        )
    if "runtime_x2_vs_x1" in ratios:
        print(f"two workers / one: {ratios['runtime_x2_vs_x1']:.2f}x")
    payload = {
        "benchmark": "scale_out",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "workload": workload.summary(),
        "targets": {"runtime_x1_vs_bare": TARGET_RATIO},
        "runs": runs,
        "medians_events_per_s": medians,
        "ratios": ratios,
        "total_runtime_s": round(time.monotonic() - started, 1),
    }
    _stack.write_result(args.output, payload)
    return payload


if __name__ == "__main__":
    main()
