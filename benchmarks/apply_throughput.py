"""Apply throughput of one worker: broker to committed rows, mixed inventory batch.

N records (default 100,000) from the feed simulator (snapshot creates, updates with several
versions of hot keys, new flights and rates, withdrawals with tombstones, 1% duplicates and 1%
stale replays) are produced to fresh per-run topics. Then the clock starts and the four
inventory StreamRunners run in threads of this one process, as a Celery worker runs them.
A topic is done when its runner has committed every record it was sent (counted from the
records it processed, not from end offsets: tansu under-reports those) and its table holds the
expected final state (rows, delete markers and the sum of versions, as computed from the
events by the contract's rules). The clock stops at the last of those commits.

Baseline in the same run: the same runtime and batches with a naive per-event ORM handler
(benchmarks/_naive.py) on a smaller sample of the same mix. With --matched (default on) the
set-based handler also runs on that small sample, for a like-for-like ratio.

    python benchmarks/apply_throughput.py [--events 100000] [--naive-events 10000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402

TARGET_EPS = 20_000
TARGET_RATIO = 10.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--naive-events", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--compression",
        default="gzip",
        choices=["gzip", "none"],
        help="producer compression (the simulator's publisher uses gzip)",
    )
    parser.add_argument(
        "--no-matched",
        dest="matched",
        action="store_false",
        help="skip the set-based run on the naive sample",
    )
    parser.add_argument("--no-naive", dest="naive", action="store_false")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for one run to land"
    )
    parser.add_argument("--output", default="apply_throughput.json")
    return parser.parse_args(argv)


def measure(workload: Any, *, handler: str, label: str, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks._naive import naive_spec
    from benchmarks._runners import (
        BenchRunner,
        RunnerThreads,
        isolated,
        produce,
        runtime_config,
        table_state,
    )
    from benchmarks._workload import TOPIC_TABLE
    from inventory.streams import STREAMS

    _stack.truncate_inventory()
    specs = {spec.contract_topic: isolated(spec, label=f"bench.{label}") for spec in STREAMS}
    if handler == "naive":
        specs = {topic: naive_spec(spec) for topic, spec in specs.items()}
    producer_config: dict[str, Any] = {"linger_ms": 20, "batch_size": 256 * 1024}
    if args.compression != "none":
        producer_config["compression_type"] = args.compression
    produce_s = produce(
        {specs[topic].topic: records for topic, records in workload.records.items()},
        **producer_config,
    )

    config = runtime_config()
    runners = {topic: BenchRunner(spec, config) for topic, spec in specs.items()}
    threads = RunnerThreads(list(runners.values()))
    cpu_before = _stack.cpu_snapshot()
    started = time.monotonic()
    threads.start()
    pending = set(runners)
    done_at: dict[str, float] = {}
    mismatch: dict[str, Any] = {}
    deadline = started + args.timeout
    try:
        while pending and time.monotonic() < deadline and not threads.errors:
            for topic in sorted(pending):
                runner = runners[topic]
                if runner.records_done < len(workload.records[topic]):
                    continue
                state = table_state(TOPIC_TABLE[topic])
                if state == workload.expected[topic].as_tuple():
                    done_at[topic] = runner.last_commit_at or time.monotonic()
                    pending.discard(topic)
                    mismatch.pop(topic, None)
                else:
                    mismatch[topic] = {
                        "got": state,
                        "expected": workload.expected[topic].as_tuple(),
                    }
            time.sleep(0.02)
        cpu = _stack.cpu_delta(cpu_before, _stack.cpu_snapshot())
    finally:
        threads.stop()
    if threads.errors or pending:
        raise RuntimeError(
            f"run {label} did not land: pending={sorted(pending)} "
            f"errors={threads.errors} mismatch={mismatch} "
            f"done={ {t: r.records_done for t, r in runners.items()} }"
        )
    ended = max(done_at.values())
    first_fetch = min(r.first_fetch_at for r in runners.values() if r.first_fetch_at is not None)
    records = workload.total
    applied_s = ended - first_fetch
    wall_s = ended - started
    return {
        "handler": handler,
        "label": label,
        "records": records,
        "produce_s": round(produce_s, 3),
        "produce_eps": round(records / produce_s),
        "group_join_s": round(first_fetch - started, 3),
        "apply_s": round(applied_s, 3),
        "events_per_s": round(records / applied_s, 1),
        "wall_incl_join_s": round(wall_s, 3),
        "events_per_s_incl_join": round(records / wall_s, 1),
        "per_topic_done_s": {t: round(at - first_fetch, 3) for t, at in sorted(done_at.items())},
        "cpu_s": cpu,
        "runners": {topic: r.timings.as_dict() for topic, r in runners.items()},
    }


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    medians: dict[str, Any] = {}
    for name, results in runs.items():
        if results:
            medians[name] = {
                "events_per_s": _stack.median([r["events_per_s"] for r in results]),
                "events_per_s_incl_join": _stack.median(
                    [r["events_per_s_incl_join"] for r in results]
                ),
                "apply_s": _stack.median([r["apply_s"] for r in results]),
                "group_join_s": _stack.median([r["group_join_s"] for r in results]),
            }
    if runs.get("naive"):
        naive = medians["naive"]["events_per_s"]
        medians["ratio_set_based_vs_naive"] = round(medians["set_based"]["events_per_s"] / naive, 1)
        if runs.get("set_based_on_naive_sample"):
            medians["ratio_matched_sample"] = round(
                medians["set_based_on_naive_sample"]["events_per_s"] / naive, 1
            )
    return medians


def report(
    runs: dict[str, list[dict[str, Any]]], medians: dict[str, Any], workloads: dict[str, Any]
) -> None:
    rows = []
    for name, results in runs.items():
        for result in results:
            rows.append(
                [
                    name,
                    result["label"],
                    result["records"],
                    result["events_per_s"],
                    result["apply_s"],
                    result["group_join_s"],
                    result["events_per_s_incl_join"],
                    result["produce_eps"],
                ]
            )
    print()
    print(
        _stack.table(
            [
                "handler",
                "run",
                "records",
                "events/s",
                "apply s",
                "join s",
                "ev/s incl join",
                "produce/s",
            ],
            rows,
            title="Apply throughput, per run",
        )
    )
    print()
    summary_rows = [
        [name, workloads[name].total, m["events_per_s"], m["events_per_s_incl_join"], m["apply_s"]]
        for name, m in medians.items()
        if isinstance(m, dict)
    ]
    print(
        _stack.table(
            ["handler (median)", "records", "events/s", "ev/s incl join", "apply s"],
            summary_rows,
            title="Medians",
        )
    )
    eps = medians["set_based"]["events_per_s"]
    print(
        f"\nset-based: {eps:,.0f} events/s (target >= {TARGET_EPS:,}: "
        f"{'MET' if eps >= TARGET_EPS else 'MISSED'})"
    )
    if "ratio_set_based_vs_naive" in medians:
        print(f"ratio of the 100k run to the naive run: {medians['ratio_set_based_vs_naive']}x")
    if "ratio_matched_sample" in medians:
        ratio = medians["ratio_matched_sample"]
        print(
            f"ratio on the same {workloads['naive'].total:,}-record sample: {ratio}x "
            f"(target >= {TARGET_RATIO:.0f}x: {'MET' if ratio >= TARGET_RATIO else 'MISSED'})"
        )
    last = runs["set_based"][-1]
    print(
        "\nwhere the time went in the last set-based run (seconds summed over the 4 runner "
        "threads, which overlap):"
    )
    print(_stack.phase_table(last["runners"]))
    cpu = last["cpu_s"]
    print("CPU seconds during that run: " + ", ".join(f"{k}={v}" for k, v in cpu.items()))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    _stack.setup()
    from benchmarks._workload import build_mixed

    started = time.monotonic()
    workloads = {"set_based": build_mixed(args.events, seed=args.seed)}
    if args.naive:
        workloads["naive"] = build_mixed(args.naive_events, seed=args.seed + 1)
        if args.matched:
            workloads["set_based_on_naive_sample"] = workloads["naive"]
    print(
        f"workloads built in {time.monotonic() - started:.1f}s: "
        + ", ".join(f"{name}={w.total:,} records" for name, w in workloads.items()),
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in workloads}
    for repeat in range(args.repeats):
        for name, workload in workloads.items():
            handler = "naive" if name == "naive" else "set_based"
            result = measure(workload, handler=handler, label=f"{name[:5]}{repeat}", args=args)
            runs[name].append(result)
            print(
                f"  {name} #{repeat + 1}: {result['events_per_s']:,.0f} events/s "
                f"({result['records']:,} records in {result['apply_s']:.2f}s after a "
                f"{result['group_join_s']:.1f}s group join)",
                flush=True,
            )
    _stack.truncate_inventory()
    medians = summarize(runs)
    report(runs, medians, workloads)
    payload = {
        "benchmark": "apply_throughput",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": {
            **{k: v for k, v in vars(args).items() if k != "output"},
            "runtime": _runtime_parameters(),
            "timing": "events/s = records / (last commit of the last topic - first "
            "records fetched); incl_join also counts the group join",
        },
        "workloads": {name: w.summary() for name, w in workloads.items()},
        "targets": {"events_per_s": TARGET_EPS, "ratio_vs_naive": TARGET_RATIO},
        "runs": runs,
        "medians": medians,
        "kafka_python_slow_io_warnings": _stack.slow_io_warnings,
        "total_runtime_s": round(time.monotonic() - started, 1),
    }
    _stack.write_result(args.output, payload)
    return payload


def _runtime_parameters() -> dict[str, Any]:
    from dataclasses import asdict

    from benchmarks._runners import runtime_config

    config = asdict(runtime_config())
    config.pop("bootstrap_servers", None)
    return config


if __name__ == "__main__":
    main()
