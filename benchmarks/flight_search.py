"""Flight search latency over 60 days of inventory.

Loads the feed simulator's default world (300 routes x 60 days x 1-3 flights a day, about 36k
flights, and their fares in 3 cabins, about 107k) straight into Postgres with the streams'
set-based handlers on decoded ChangeEvents (no broker), ANALYZEs, then times
`inventory.selectors.flights_search(origin=, destination=, day=, cabin=, passengers=)` over
--queries random realistic queries: served routes on days of the horizon (most), routes
nobody flies, days outside the horizon. A warm-up pass runs the same queries first (warm
cache); then --repeats timed passes. Queries per search are counted with
django.test.utils.CaptureQueriesContext in a separate, untimed pass.

    python benchmarks/flight_search.py [--queries 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402
from travelbot.streams.contract import CABINS  # noqa: E402

TARGET_P95_MS = 10.0
PASSENGERS = (1, 2, 3, 4, 5, 6)
PASSENGER_WEIGHTS = (50, 30, 8, 8, 2, 2)
CABIN_CHOICES = (None, *CABINS)
CABIN_WEIGHTS = (25, 50, 10, 15)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the queries")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--routes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", default="flight_search.json")
    return parser.parse_args(argv)


def make_queries(world: Any, count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    routes = [(r.origin.code, r.destination.code) for r in world.routes]
    served = set(routes)
    codes = [airport.code for airport in world.places.airports]
    queries = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.85:  # a route that is flown, on a day of the horizon
            origin, destination = rng.choice(routes)
            day = world.start + timedelta(days=rng.randrange(world.days))
            kind = "served"
        elif roll < 0.95:  # a city pair nobody flies nonstop
            while True:
                origin, destination = rng.sample(codes, 2)
                if (origin, destination) not in served:
                    break
            day = world.start + timedelta(days=rng.randrange(world.days))
            kind = "unserved_route"
        else:  # past the schedule's horizon (or yesterday)
            origin, destination = rng.choice(routes)
            day = world.start + timedelta(days=rng.choice((-1, world.days, world.days + 30)))
            kind = "outside_horizon"
        queries.append(
            {
                "origin": origin,
                "destination": destination,
                "day": day,
                "cabin": rng.choices(CABIN_CHOICES, weights=CABIN_WEIGHTS)[0],
                "passengers": rng.choices(PASSENGERS, weights=PASSENGER_WEIGHTS)[0],
                "kind": kind,
            }
        )
    return queries


def run_pass(queries: list[dict[str, Any]]) -> tuple[list[float], list[int]]:
    from inventory.selectors import flights_search

    timings, offers = [], []
    for query in queries:
        started = time.perf_counter_ns()
        result = flights_search(
            origin=query["origin"],
            destination=query["destination"],
            day=query["day"],
            cabin=query["cabin"],
            passengers=query["passengers"],
        )
        timings.append((time.perf_counter_ns() - started) / 1e6)
        offers.append(len(result))
    return timings, offers


def count_queries(queries: list[dict[str, Any]]) -> tuple[Counter[int], list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory.selectors import flights_search

    counts: Counter[int] = Counter()
    example: list[str] = []
    for query in queries:
        with CaptureQueriesContext(connection) as captured:
            offers = flights_search(
                origin=query["origin"],
                destination=query["destination"],
                day=query["day"],
                cabin=query["cabin"],
                passengers=query["passengers"],
            )
        counts[len(captured.captured_queries)] += 1
        if not example and len(offers) >= 2:
            example = [q["sql"] for q in captured.captured_queries]
    return counts, example


def explain(sqls: list[str]) -> list[str]:
    from psycopg.rows import scalar_row

    from travelbot.sql import fetch_all

    return [
        "\n".join(fetch_all(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", row=scalar_row)) for sql in sqls
    ]


def figures(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)
    return {
        "p50": round(_stack.quantile(ordered, 0.5), 3),
        "p95": round(_stack.quantile(ordered, 0.95), 3),
        "p99": round(_stack.quantile(ordered, 0.99), 3),
        "max": round(ordered[-1], 3),
        "mean": round(sum(ordered) / len(ordered), 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    _stack.setup()
    from benchmarks._load import load_world
    from simulator.world import WorldSpec, generate_world

    begun = time.monotonic()
    _stack.truncate_inventory()
    world = generate_world(
        WorldSpec(days=args.days, routes=args.routes, cities=0),
        seed=args.seed,
        now=datetime.now(UTC),
    )
    load = load_world(world, tables=["flights", "fares"])
    _stack.analyze()
    print(
        f"loaded {world.size()['flights']:,} flights and {world.size()['fares']:,} fares in "
        f"{load['decode_s'] + load['apply_s']:.1f}s (decode {load['decode_s']}s, "
        f"apply {load['apply_s']}s); ANALYZE done",
        flush=True,
    )

    queries = make_queries(world, args.queries, args.seed)
    warm_timings, offers = run_pass(queries)  # warm-up: caches, plans, connection
    runs = []
    for repeat in range(args.repeats):
        timings, _ = run_pass(queries)
        runs.append({"pass": repeat + 1, **figures(timings)})
    by_kind: dict[str, list[float]] = {}
    for query, timing in zip(queries, timings, strict=True):
        by_kind.setdefault(query["kind"], []).append(timing)
    query_counts, example_sql = count_queries(queries)
    plans = explain(example_sql)
    _stack.truncate_inventory()

    medians = {key: _stack.median([run[key] for run in runs]) for key in ("p50", "p95", "p99")}
    result = {
        "benchmark": "flight_search",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "data": {
            "flights": world.size()["flights"],
            "fares": world.size()["fares"],
            "routes": len(world.routes),
            "days": world.days,
            "load": load,
        },
        "queries": {
            "count": len(queries),
            "kinds": dict(Counter(q["kind"] for q in queries)),
            "cabins": dict(Counter(str(q["cabin"]) for q in queries)),
            "mean_offers": round(sum(offers) / len(offers), 2),
            "empty_results": sum(1 for n in offers if n == 0),
            "examples": [{**q, "day": q["day"].isoformat()} for q in queries[:5]],
        },
        "warmup_pass_ms": figures(warm_timings),
        "runs": runs,
        "medians": medians,
        "last_pass_by_kind_ms": {kind: figures(values) for kind, values in by_kind.items()},
        "queries_per_search": {str(k): v for k, v in sorted(query_counts.items())},
        "example_sql": example_sql,
        "explain": plans,
        "target": {"p95_ms": TARGET_P95_MS},
        "total_runtime_s": round(time.monotonic() - begun, 1),
    }
    report(result)
    _stack.write_result(args.output, result)
    return result


def report(result: dict[str, Any]) -> None:
    rows = [
        [
            "warm-up pass",
            *(result["warmup_pass_ms"][k] for k in ("p50", "p95", "p99", "max", "mean")),
        ]
    ]
    rows += [
        [f"timed pass {run['pass']}", run["p50"], run["p95"], run["p99"], run["max"], run["mean"]]
        for run in result["runs"]
    ]
    rows += [
        [f"  {kind} (last pass)", f["p50"], f["p95"], f["p99"], f["max"], f["mean"]]
        for kind, f in result["last_pass_by_kind_ms"].items()
    ]
    data, queries = result["data"], result["queries"]
    print()
    print(
        _stack.table(
            ["flights_search (ms)", "p50", "p95", "p99", "max", "mean"],
            rows,
            title=f"Flight search over {data['flights']:,} flights / "
            f"{data['fares']:,} fares, {queries['count']:,} queries "
            f"({queries['mean_offers']} offers on average, "
            f"{queries['empty_results']} empty)",
        )
    )
    medians = result["medians"]
    print(
        f"\nmedian over passes: p50 {medians['p50']:.2f} ms, p95 {medians['p95']:.2f} ms, "
        f"p99 {medians['p99']:.2f} ms (target p95 < {TARGET_P95_MS:.0f} ms: "
        f"{'MET' if medians['p95'] < TARGET_P95_MS else 'MISSED'})"
    )
    print(
        "SQL queries per search: "
        + ", ".join(f"{n} queries x {count}" for n, count in result["queries_per_search"].items())
    )


if __name__ == "__main__":
    main()
