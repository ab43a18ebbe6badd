"""Freshness: source-to-committed latency of every inventory event at a realistic rate.

The world (default: the simulator's full 60-day world, ~36k flights, ~107k fares, ~65k rates)
is loaded into Postgres first, as a running system would have it. The feed simulator then runs
in its own process (benchmarks/_producer.py), publishing realistic changes at --rate events/s
to fresh topics, each stamped source.ts_ms = the moment it is generated and sent. The four
inventory StreamRunners consume in threads of this process. After a warm-up (group joins,
caches) the producer is told to start the measured phase of --seconds.

Latency per event = the moment its batch's Postgres transaction committed (taken right after
commit returns, in an instrumented StreamRunner subclass) - its source.ts_ms. Exact, per
event, no sampling. For comparison the runtime's own histogram (StreamBatch rows, bucketed)
is read with travelbot.selectors.latency_histograms + histogram_quantile.

    python benchmarks/freshness.py [--rate 2000] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402

TARGET_P95_MS = 500.0
TARGET_P99_MS = 1000.0
QUANTILES = (0.5, 0.95, 0.99)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=2000.0, help="events/s produced")
    parser.add_argument("--seconds", type=float, default=30.0, help="measured phase")
    parser.add_argument(
        "--warmup",
        type=float,
        default=5.0,
        help="minimum seconds of traffic before measuring (after group joins)",
    )
    parser.add_argument(
        "--window", type=float, default=10.0, help="seconds per window for the per-window figures"
    )
    parser.add_argument(
        "--world-fraction",
        type=float,
        default=1.0,
        help="size of the preloaded world relative to the simulator's default",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--fetch-max-wait-ms",
        type=int,
        default=None,
        help="experiment: override STREAM_FETCH_MAX_WAIT_MS for this run",
    )
    parser.add_argument("--output", default="freshness.json")
    return parser.parse_args(argv)


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    figures = {f"p{round(q * 100)}": round(_stack.quantile(ordered, q), 1) for q in QUANTILES}
    figures["max"] = round(ordered[-1], 1) if ordered else float("nan")
    figures["mean"] = round(sum(ordered) / len(ordered), 1) if ordered else float("nan")
    figures["events"] = len(ordered)
    return figures


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    _stack.setup()
    from benchmarks._load import load_world
    from benchmarks._runners import BenchRunner, RunnerThreads, isolated, runtime_config, servers
    from inventory.streams import STREAMS
    from simulator.world import WorldSpec, generate_world
    from travelbot.models import STREAM_LATENCY
    from travelbot.selectors import histogram_quantile, latency_histograms

    begun = time.monotonic()
    _stack.truncate_inventory()
    now = time.time()
    world = generate_world(
        WorldSpec().scaled(args.world_fraction),
        seed=args.seed,
        now=datetime.fromtimestamp(now, UTC),
    )
    preload = load_world(world)
    _stack.analyze()
    print(
        f"preloaded {world.size()} in {preload['decode_s'] + preload['apply_s']:.1f}s", flush=True
    )

    specs = {spec.contract_topic: isolated(spec, label="bench.fresh") for spec in STREAMS}
    overrides = (
        {} if args.fetch_max_wait_ms is None else {"fetch_max_wait_ms": args.fetch_max_wait_ms}
    )
    runners = {
        topic: BenchRunner(spec, runtime_config(**overrides), capture_latency=True)
        for topic, spec in specs.items()
    }
    threads = RunnerThreads(list(runners.values())).start()
    child_config = {
        "bootstrap_servers": servers(),
        "now": now,
        "seed": args.seed,
        "world_fraction": args.world_fraction,
        "rate": args.rate,
        "seconds": args.seconds,
        "topics": {topic: spec.topic for topic, spec in specs.items()},
    }
    producer = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("_producer.py")), json.dumps(child_config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert producer.stdin is not None and producer.stdout is not None
        if producer.stdout.readline().strip() != "READY":
            raise RuntimeError("the producer did not start")
        ready_at = time.monotonic()
        _warm_up(runners, threads, ready_at=ready_at, warmup_s=args.warmup)
        warmup_s = time.monotonic() - ready_at
        cpu_before = _stack.cpu_snapshot()
        producer_cpu_before = _stack._proc_cpu_s(producer.pid)
        producer.stdin.write("go\n")
        producer.stdin.flush()
        line = producer.stdout.readline().split()
        measure_start_ms = float(line[1])
        summary = json.loads(producer.stdout.readline())
        producer_cpu = _stack._proc_cpu_s(producer.pid) - producer_cpu_before
        producer.wait(timeout=30)
        drained = _drain(runners, threads, summary["records"], timeout_s=30)
        cpu = _stack.cpu_delta(cpu_before, _stack.cpu_snapshot())
        cpu["producer_process"] = round(producer_cpu, 3)
    finally:
        threads.stop()
        if producer.poll() is None:
            producer.kill()
            producer.wait()

    end_ms = summary["measure_end_ms"]
    start_ms = int(measure_start_ms)
    latencies: dict[str, list[float]] = {}
    windows: dict[int, list[float]] = {}
    for topic, runner in runners.items():
        latencies[topic] = []
        for committed_ms, event_times in runner.commits:
            for event_ms in event_times:
                if event_ms >= start_ms:
                    latency = committed_ms - event_ms
                    latencies[topic].append(latency)
                    last = max(0, int(args.seconds / args.window) - 1)
                    index = min(last, int((event_ms - measure_start_ms) // (args.window * 1000)))
                    windows.setdefault(index, []).append(latency)
    everything = [v for values in latencies.values() for v in values]
    overall = quantiles(everything)
    per_topic = {topic: quantiles(values) for topic, values in latencies.items()}
    window_runs = [
        {"window": i, "from_s": i * args.window, **quantiles(values)}
        for i, values in sorted(windows.items())
    ]

    since = datetime.fromtimestamp(measure_start_ms / 1000, UTC)
    histogram = STREAM_LATENCY.empty()
    for spec in specs.values():
        counts = latency_histograms(since=since).get(spec.name) or STREAM_LATENCY.empty()
        histogram = [a + b for a, b in zip(histogram, counts, strict=True)]
    runtime = {f"p{round(q * 100)}": histogram_quantile(histogram, q) for q in QUANTILES}
    runtime["samples"] = sum(histogram)
    _stack.truncate_inventory()

    produced = sum(summary["measured_events"].values())
    batches = {topic: r.timings.as_dict() for topic, r in runners.items()}
    result = {
        "benchmark": "freshness",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": {
            **{k: v for k, v in vars(args).items() if k != "output"},
            "runtime": {
                k: v for k, v in asdict(runtime_config()).items() if k != "bootstrap_servers"
            },
            "producer": "simulator.publisher.run_changes, gzip, linger 20 ms, separate process",
            "latency": "Postgres commit time of the event's batch - source.ts_ms",
        },
        "preload": {"world": world.size(), **preload},
        "warmup_s": round(warmup_s, 1),
        "drained": drained,
        "produced_events": produced,
        "achieved_rate": round(produced / ((end_ms - measure_start_ms) / 1000), 1),
        "measured_events": len(everything),
        "latency_ms": overall,
        "per_topic_ms": per_topic,
        "runs": window_runs,
        "medians": {
            key: _stack.median([w[key] for w in window_runs]) for key in ("p50", "p95", "p99")
        }
        if window_runs
        else {},
        "runtime_histogram_ms": runtime,
        "batches": batches,
        "cpu_s": cpu,
        "producer_kinds": summary["kinds"],
        "kafka_python_slow_io_warnings": _stack.slow_io_warnings,
        "targets": {"p95_ms": TARGET_P95_MS, "p99_ms": TARGET_P99_MS},
        "total_runtime_s": round(time.monotonic() - begun, 1),
    }
    report(result)
    _stack.write_result(args.output, result)
    return result


def _warm_up(runners: dict[str, Any], threads: Any, *, ready_at: float, warmup_s: float) -> None:
    """Until every runner has committed batches for a while and is keeping up."""
    deadline = ready_at + 60
    while time.monotonic() < deadline:
        if threads.errors:
            raise RuntimeError(f"runner failed: {threads.errors}")
        elapsed = time.monotonic() - ready_at
        recent = [r.commits[-1] for r in runners.values() if r.commits]
        caught_up = len(recent) == len(runners) and all(
            not times or time.time() * 1000 - max(times) < 2000 for _, times in recent
        )
        if elapsed >= warmup_s and caught_up:
            return
        time.sleep(0.1)
    raise RuntimeError("runners did not warm up within 60s")


def _drain(
    runners: dict[str, Any], threads: Any, records: dict[str, int], *, timeout_s: float
) -> bool:
    """Wait until every runner has committed all records the producer sent to its topic."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not threads.errors:
        if all(r.records_done >= records.get(r.spec.topic, 0) for r in runners.values()):
            return True
        time.sleep(0.05)
    return False


def report(result: dict[str, Any]) -> None:
    overall, runtime = result["latency_ms"], result["runtime_histogram_ms"]
    rows = [
        [
            "all",
            overall["events"],
            overall["p50"],
            overall["p95"],
            overall["p99"],
            overall["max"],
            overall["mean"],
        ]
    ]
    rows += [
        [topic, f["events"], f["p50"], f["p95"], f["p99"], f["max"], f["mean"]]
        for topic, f in result["per_topic_ms"].items()
    ]
    rows += [
        [
            f"window {w['from_s']:.0f}s+",
            w["events"],
            w["p50"],
            w["p95"],
            w["p99"],
            w["max"],
            w["mean"],
        ]
        for w in result["runs"]
    ]
    print()
    print(
        _stack.table(
            ["source -> committed (ms)", "events", "p50", "p95", "p99", "max", "mean"],
            rows,
            title=f"Freshness at {result['achieved_rate']:,.0f} events/s "
            f"for {result['parameters']['seconds']:.0f}s "
            f"(warm-up {result['warmup_s']}s)",
        )
    )
    print(
        f"\nruntime's own histogram (bucket upper bounds, {runtime['samples']:,} samples): "
        f"p50 {runtime['p50']} ms, p95 {runtime['p95']} ms, p99 {runtime['p99']} ms"
    )
    p95, p99, drained = overall["p95"], overall["p99"], result["drained"]
    print(
        f"p95 {p95} ms (target < {TARGET_P95_MS:.0f}: "
        f"{'MET' if drained and p95 < TARGET_P95_MS else 'MISSED'}), "
        f"p99 {p99} ms (target < {TARGET_P99_MS:.0f}: "
        f"{'MET' if drained and p99 < TARGET_P99_MS else 'MISSED'})"
    )
    if not drained:
        print(
            "MISSED: the runners had not committed every produced record at the end, "
            "so the percentiles above leave out the slowest events"
        )
    print(_stack.phase_table(result["batches"], title="\nwhole run, seconds per phase"))
    print(
        "CPU seconds in the measured phase: "
        + ", ".join(f"{k}={v}" for k, v in result["cpu_s"].items())
    )


if __name__ == "__main__":
    main()
