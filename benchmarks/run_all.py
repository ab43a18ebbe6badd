"""Run every benchmark against one shared embedded stack; write benchmarks/results/latest.json.

Each benchmark runs in its own Python process (fresh Django, fresh threads), pointed at the
stack started here through DATABASE_URL / REDIS_URL / KAFKA_BOOTSTRAP_SERVERS; the stack stops
when this script exits.

    python benchmarks/run_all.py [--quick] [--only apply_throughput,scale_out,...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402

BENCHMARKS = ("apply_throughput", "scale_out", "freshness", "flight_search")
QUICK_ARGS = {
    "apply_throughput": ["--events", "20000", "--naive-events", "2000", "--repeats", "1"],
    "scale_out": ["--events", "20000", "--repeats", "1"],
    "freshness": ["--seconds", "10"],
    "flight_search": ["--queries", "300", "--repeats", "1"],
}
TIMEOUT_S = {"apply_throughput": 400, "scale_out": 900, "freshness": 300, "flight_search": 300}


def summary(name: str, result: dict[str, Any]) -> dict[str, Any]:
    medians = result.get("medians", {})
    if name == "apply_throughput":
        eps = medians["set_based"]["events_per_s"]
        # Judged like for like: both handlers on the same records.
        ratio = medians.get("ratio_matched_sample", medians.get("ratio_set_based_vs_naive"))
        return {
            "events_per_s": eps,
            "naive_events_per_s": medians.get("naive", {}).get("events_per_s"),
            "ratio_vs_naive_100k_run": medians.get("ratio_set_based_vs_naive"),
            "ratio_same_sample": medians.get("ratio_matched_sample"),
            "events_per_s_incl_group_join": medians["set_based"]["events_per_s_incl_join"],
            "target_events_per_s_met": eps >= 20_000,
            "target_ratio_met": ratio is not None and ratio >= 10,
        }
    if name == "scale_out":
        medians, ratios = result["medians_events_per_s"], result["ratios"]
        return {
            "bare_loop_events_per_s": medians["bare"],
            "one_worker_events_per_s": medians["runtime x1"],
            "two_workers_events_per_s": medians["runtime x2"],
            "one_worker_vs_bare": ratios["runtime_x1_vs_bare"],
            "two_workers_vs_one": ratios["runtime_x2_vs_x1"],
            "target_ratio_met": ratios["runtime_x1_vs_bare"] >= 0.9,
        }
    if name == "freshness":
        latency, runtime = result["latency_ms"], result["runtime_histogram_ms"]
        return {
            "p50_ms": latency["p50"],
            "p95_ms": latency["p95"],
            "p99_ms": latency["p99"],
            "events": latency["events"],
            "rate": result["achieved_rate"],
            "runtime_histogram_p95_ms": runtime["p95"],
            # An event never committed has no latency: it fails the target, not the sample.
            "target_p95_met": result["drained"] and latency["p95"] < 500,
            "target_p99_met": result["drained"] and latency["p99"] < 1000,
        }
    return {
        "p50_ms": medians["p50"],
        "p95_ms": medians["p95"],
        "p99_ms": medians["p99"],
        "queries_per_search": result["queries_per_search"],
        "target_p95_met": medians["p95"] < 10,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    parser.add_argument("--only", default=",".join(BENCHMARKS))
    args = parser.parse_args(argv)
    selected = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(selected) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    started = time.monotonic()
    _stack.start_stack()
    results: dict[str, Any] = {}
    failures: dict[str, str] = {}
    for name in selected:
        output = f"{name}.json"
        command = [
            sys.executable,
            str(Path(__file__).with_name(f"{name}.py")),
            "--output",
            output,
            *(QUICK_ARGS[name] if args.quick else []),
        ]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        began = time.monotonic()
        try:
            completed = subprocess.run(command, env=os.environ.copy(), timeout=TIMEOUT_S[name])
            code = completed.returncode
        except subprocess.TimeoutExpired:
            code = -1
        print(f"=== {name}: exit {code} after {time.monotonic() - began:.0f}s", flush=True)
        if code != 0:
            failures[name] = f"exit code {code}"
            continue
        results[name] = json.loads((_stack.RESULTS / output).read_text())

    summaries = {name: summary(name, result) for name, result in results.items()}
    payload = {
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "quick": args.quick,
        "summary": summaries,
        "failures": failures,
        "results": results,
        "total_runtime_s": round(time.monotonic() - started, 1),
    }
    _stack.write_result("latest.json", payload)
    print("\n=== summary")
    for name, figures in summaries.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in figures.items()))
    for name, reason in failures.items():
        print(f"{name}: FAILED ({reason})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
