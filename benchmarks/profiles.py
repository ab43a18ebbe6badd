"""Unified profile: resolution throughput, the chat turn's profile read, change to API.

1. Resolution throughput, one worker: customer events (CRM, loyalty, bookings) produced to
   fresh topics, then the three profile streams run in threads of this process, as a Celery
   worker runs them; every event is mirrored and its components re-resolved. Three shapes,
   the same number of events each: a typical mix (a person is a CRM record, often a loyalty
   membership and a booking or two), families of 2 (two records sharing a phone) and hubs
   of 200 (200 records sharing one phone: every batch re-resolves a big component).
   events/s = events / (last commit - first fetch).
2. The profile read a chat turn makes (`profile_for_user`), with 100,000 profiles loaded
   (straight through the stream handlers) and their bookings' flights and hotels in
   inventory: --reads random linked travellers, warm, timed; queries per read counted.
3. A change in a source to the updated profile visible through `GET /api/profiles`: with the
   three streams running, CRM name changes are published at --rate a second; each is timed
   from publish to the first API answer that shows it.

    python benchmarks/profiles.py [--events 60000] [--profiles 100000] [--reads 2000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _stack  # noqa: E402

TARGET_EPS = 5_000
TARGET_READ_P95_MS = 5.0
TARGET_VISIBLE_P95_MS = 1_000.0
BASE_MS = 1_790_000_000_000
TOPICS = {"crm": "crm.customers", "loyalty": "loyalty.members", "booking": "bookings.reservations"}
SYSTEMS = {
    "crm": ("crm", "customers"),
    "loyalty": ("loyalty", "members"),
    "booking": ("booking_engine", "reservations"),
}
KEY_FIELDS = {"crm": "customer_id", "loyalty": "member_id", "booking": "booking_ref"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=60_000, help="per shape")
    parser.add_argument("--profiles", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=2_000)
    parser.add_argument("--changes", type=int, default=120)
    parser.add_argument("--rate", type=float, default=4.0, help="changes per second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", default="profiles.json")
    return parser.parse_args(argv)


# --- synthetic people ------------------------------------------------------------------------


def phone(n: int) -> str:
    return f"+44 7700 9{n % 100_000:05d}"


def person_records(
    n: int, rng: random.Random, *, flights: list[str], hotels: list[str]
) -> list[tuple[str, dict[str, Any]]]:
    """A typical person: a CRM record, often a loyalty membership, a booking or two."""
    email = f"person{n}@example.com"
    records: list[tuple[str, dict[str, Any]]] = [
        (
            "crm",
            {
                "customer_id": f"C-{n}",
                "email": email,
                "phone": phone(n),
                "first_name": f"First{n}",
                "last_name": f"Last{n}",
                "home_airport": "LHR",
                "preferences": {"seat": rng.choice(["aisle", "window"])},
                "marketing_opt_in": False,
            },
        ),
    ]
    if rng.random() < 0.6:
        records.append(
            (
                "loyalty",
                {
                    "member_id": f"TB-{n}",
                    "email": email.upper(),
                    "phone": None,
                    "tier": rng.choice(["blue", "silver", "gold"]),
                    "points": rng.randint(0, 90_000),
                },
            )
        )
    for b in range(rng.choice([0, 1, 1, 2])):
        records.append(
            ("booking", booking(f"B{n}X{b}", email=email, flights=flights, hotels=hotels, rng=rng))
        )
    return records


def booking(
    ref: str, *, email: str, flights: list[str], hotels: list[str], rng: random.Random, **extra: Any
) -> dict[str, Any]:
    items: list[dict[str, Any]] = []
    if flights:
        items.append(
            {
                "type": "flight",
                "flight_id": rng.choice(flights),
                "cabin": "economy",
                "passengers": 1,
            }
        )
    if hotels:
        items.append(
            {
                "type": "hotel",
                "hotel_id": rng.choice(hotels),
                "check_in": "2026-12-01",
                "check_out": "2026-12-03",
                "room_type": "double",
            }
        )
    return {
        "booking_ref": ref,
        "email": email,
        "phone": None,
        "customer_id": None,
        "member_id": None,
        "status": "confirmed",
        "items": items,
        "total": "420.00",
        "currency": "GBP",
        "created_at": "2026-11-20T10:00:00Z",
        **extra,
    }


def shape_records(shape: str, events: int, rng: random.Random) -> list[tuple[str, dict[str, Any]]]:
    records: list[tuple[str, dict[str, Any]]] = []
    n = 0
    while len(records) < events:
        n += 1
        if shape == "mixed":
            records += person_records(n, rng, flights=[], hotels=[])
        elif shape == "family of 2":
            shared = phone(n)
            for member in (1, 2):
                records.append(
                    (
                        "crm",
                        {
                            "customer_id": f"C-{n}-{member}",
                            "email": f"f{n}m{member}@example.com",
                            "phone": shared,
                        },
                    )
                )
        else:  # hub of 200: members of one household-like cluster sharing one phone
            shared = phone(n)
            for member in range(200):
                records.append(
                    (
                        "crm",
                        {
                            "customer_id": f"H-{n}-{member}",
                            "email": f"h{n}m{member}@example.com",
                            "phone": shared,
                        },
                    )
                )
    return records[:events]


def encoded(
    records: list[tuple[str, dict[str, Any]]], *, first_lsn: int = 1
) -> dict[str, list[tuple[bytes, bytes | None]]]:
    from travelbot.streams.envelope import make_change

    by_topic: dict[str, list[tuple[bytes, bytes | None]]] = {t: [] for t in TOPICS.values()}
    for lsn, (source, row) in enumerate(records, start=first_lsn):
        system, table = SYSTEMS[source]
        value = make_change(
            op="r",
            after=row,
            before=None,
            system=system,
            table=table,
            lsn=lsn,
            source_ts_ms=BASE_MS + lsn,
            ts_ms=BASE_MS + lsn,
        )
        key = {KEY_FIELDS[source]: row[KEY_FIELDS[source]]}
        by_topic[TOPICS[source]].append((json.dumps(key).encode(), json.dumps(value).encode()))
    return by_topic


# --- 1. resolution throughput ----------------------------------------------------------------


def resolution(shape: str, args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks._runners import BenchRunner, RunnerThreads, isolated, produce, runtime_config
    from profiles.streams import STREAMS

    _truncate_profiles()
    records = shape_records(shape, args.events, random.Random(args.seed))
    topics = encoded(records)
    specs = {spec.contract_topic: isolated(spec, label="bench.") for spec in STREAMS}
    produce(
        {specs[topic].topic: recs for topic, recs in topics.items()},
        linger_ms=20,
        compression_type="gzip",
    )
    runners = [BenchRunner(spec, runtime_config()) for spec in specs.values()]
    expected = {
        runner.spec.contract_topic: len(topics[runner.spec.contract_topic.split(".bench.")[0]])
        for runner in runners
    }
    threads = RunnerThreads(runners).start()
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and not threads.errors:
            if all(r.records_done >= expected[r.spec.contract_topic] for r in runners):
                break
            time.sleep(0.05)
    finally:
        threads.stop()
    if threads.errors:
        raise RuntimeError(f"{shape}: {threads.errors}")
    fetched = [r.first_fetch_at for r in runners if r.first_fetch_at is not None]
    commits = [r.last_commit_at for r in runners if r.last_commit_at is not None]
    seconds = max(commits) - min(fetched)
    return {
        "shape": shape,
        "events": len(records),
        "profiles": _count("profiles_profile"),
        "records": _count("profiles_identitynode"),
        "seconds": round(seconds, 3),
        "events_per_s": round(len(records) / seconds, 1),
    }


# --- 2. the chat turn's profile read ---------------------------------------------------------


def read_latency(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from benchmarks._load import load_world
    from inventory.models import Flight, Hotel
    from profiles.models import ProfileLink
    from profiles.selectors import profile_for_user
    from simulator.world import WorldSpec, generate_world

    _truncate_profiles()
    _stack.truncate_inventory()
    world = generate_world(WorldSpec().scaled(0.1), seed=args.seed)
    load_world(world, tables=("flights", "hotels"))
    flights = list(Flight.objects.values_list("flight_id", flat=True)[:2000])
    hotels = list(Hotel.objects.values_list("hotel_id", flat=True))
    rng = random.Random(args.seed)
    started = time.monotonic()
    loaded = _load_people(args.profiles, rng, flights=flights, hotels=hotels)
    load_s = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    users = _linked_users(args.reads, args.profiles, rng)
    for user in users:  # warm-up
        profile_for_user(user=user)
    with CaptureQueriesContext(connection) as queries:
        profile_for_user(user=users[0])
    timings = []
    for user in users:
        begun = time.perf_counter()
        profile = profile_for_user(user=user)
        timings.append((time.perf_counter() - begun) * 1000)
        assert profile is not None
    timings.sort()
    ProfileLink.objects.all().delete()
    User.objects.filter(username__startswith="bench-").delete()
    return {
        "profiles": _count("profiles_profile"),
        "records": loaded,
        "load_s": round(load_s, 1),
        "reads": len(timings),
        "queries_per_read": len(queries.captured_queries),
        "p50_ms": round(_stack.quantile(timings, 0.5), 3),
        "p95_ms": round(_stack.quantile(timings, 0.95), 3),
        "p99_ms": round(_stack.quantile(timings, 0.99), 3),
    }


def _load_people(count: int, rng: random.Random, *, flights: list[str], hotels: list[str]) -> int:
    from django.db import transaction

    from profiles.streams import HANDLERS
    from travelbot.streams import contract
    from travelbot.streams.envelope import decode_change

    contracts = {
        "crm": contract.CUSTOMERS,
        "loyalty": contract.MEMBERS,
        "booking": contract.BOOKINGS,
    }
    total = 0
    batch: dict[str, list[Any]] = {source: [] for source in contracts}

    def flush() -> None:
        with transaction.atomic():
            for source, events in batch.items():
                if events:
                    HANDLERS[source][0](events)
                    events.clear()

    for n in range(1, count + 1):
        for source, row in person_records(n, rng, flights=flights, hotels=hotels):
            total += 1
            system, table = SYSTEMS[source]
            key = json.dumps({KEY_FIELDS[source]: row[KEY_FIELDS[source]]}).encode()
            value = json.dumps(
                {
                    "op": "r",
                    "after": row,
                    "source": {"system": system, "table": table, "lsn": total, "ts_ms": BASE_MS},
                }
            ).encode()
            batch[source].append(decode_change(key, value, topic=contracts[source]))
        if n % 5000 == 0:
            flush()
    flush()
    return total


def _linked_users(reads: int, profiles: int, rng: random.Random) -> list[Any]:
    from django.contrib.auth.models import User

    from profiles.models import ProfileLink

    people = rng.sample(range(1, profiles + 1), k=min(reads, profiles))
    users = User.objects.bulk_create([User(username=f"bench-{n}") for n in people])
    ProfileLink.objects.bulk_create(
        ProfileLink(user=user, kind="email", value=f"person{n}@example.com", method="email")
        for user, n in zip(users, people, strict=True)
    )
    return users


# --- 3. source change to API -----------------------------------------------------------------


def change_to_api(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.test import Client

    from benchmarks._runners import BenchRunner, RunnerThreads, isolated, produce, runtime_config
    from profiles.streams import STREAMS
    from travelbot.streams.kafka import make_producer

    specs = [isolated(spec, label="visible.") for spec in STREAMS]
    crm = next(s for s in specs if s.name == "crm.customers")
    produce(
        {
            crm.topic: encoded([("crm", _named(n, "Before")) for n in range(args.changes)])[
                TOPICS["crm"]
            ]
        }
    )
    staff = User.objects.create_user(f"bench-staff-{uuid.uuid4().hex[:6]}", is_staff=True)
    client = Client()
    client.force_login(staff)
    latencies: list[float] = []
    threads = RunnerThreads([BenchRunner(spec, runtime_config()) for spec in specs]).start()
    producer = make_producer(_servers())
    try:
        _wait_visible(client, args.changes - 1, "Before", timeout_s=120)
        for n in range(args.changes):
            row = _named(n, f"After{n}")
            value = _change(row, lsn=10**9 + n)
            sent = time.monotonic()
            producer.send(crm.topic, key={"customer_id": row["customer_id"]}, value=value)
            producer.flush()
            latencies.append(_wait_visible(client, n, f"After{n}", timeout_s=30) - sent)
            time.sleep(max(0.0, 1 / args.rate - (time.monotonic() - sent)))
    finally:
        producer.close()
        threads.stop()
    ms = sorted(latency * 1000 for latency in latencies)
    return {
        "changes": len(ms),
        "rate_per_s": args.rate,
        "p50_ms": round(_stack.quantile(ms, 0.5), 1),
        "p95_ms": round(_stack.quantile(ms, 0.95), 1),
        "p99_ms": round(_stack.quantile(ms, 0.99), 1),
        "max_ms": round(ms[-1], 1),
    }


def _named(n: int, last_name: str) -> dict[str, Any]:
    return {
        "customer_id": f"V-{n}",
        "email": f"visible{n}@example.com",
        "phone": None,
        "first_name": "Vis",
        "last_name": last_name,
    }


def _change(row: dict[str, Any], *, lsn: int) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {
        "op": "u",
        "after": row,
        "before": None,
        "source": {"system": "crm", "table": "customers", "lsn": lsn, "ts_ms": now_ms},
        "ts_ms": now_ms,
    }


def _wait_visible(client: Any, n: int, last_name: str, *, timeout_s: float) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = client.get("/api/profiles", {"customer_id": f"V-{n}"})
        if response.status_code == 200 and response.json()["name"]["value"].endswith(last_name):
            return time.monotonic()
        time.sleep(0.01)
    raise RuntimeError(f"V-{n} never showed {last_name!r} through the API")


# --- plumbing --------------------------------------------------------------------------------


def _servers() -> list[str]:
    import os

    return os.environ["KAFKA_BOOTSTRAP_SERVERS"].split(",")


def _count(table: str) -> int:
    from travelbot.sql import fetch_value

    return int(fetch_value(f"SELECT count(*) FROM {table}"))


def _truncate_profiles() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE profiles_crmcustomer, profiles_loyaltymember, profiles_booking, "
            "profiles_identitynode, profiles_identifier, profiles_profile, "
            "profiles_dataqualityfinding, profiles_profilelink"
        )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    _stack.setup()
    started = time.monotonic()
    shapes = [resolution(shape, args) for shape in ("mixed", "family of 2", "hub of 200")]
    for result in shapes:
        print(
            f"  resolution, {result['shape']}: {result['events_per_s']:,.0f} events/s "
            f"({result['events']:,} events, {result['profiles']:,} profiles)",
            flush=True,
        )
    visible = change_to_api(args)
    print(f"  change to API: p50 {visible['p50_ms']} ms, p95 {visible['p95_ms']} ms", flush=True)
    read = read_latency(args)
    print()
    print(
        _stack.table(
            ["shape", "events", "profiles", "events/s"],
            [[r["shape"], r["events"], r["profiles"], r["events_per_s"]] for r in shapes],
            title="Resolution throughput, one worker (3 streams)",
        )
    )
    mixed = shapes[0]["events_per_s"]
    print(
        f"\nmixed: {mixed:,.0f} events/s (target >= {TARGET_EPS:,}: "
        f"{'MET' if mixed >= TARGET_EPS else 'MISSED'})"
    )
    print(
        f"profile read over {read['profiles']:,} profiles: p50 {read['p50_ms']} ms, "
        f"p95 {read['p95_ms']} ms, p99 {read['p99_ms']} ms, {read['queries_per_read']} queries "
        f"(target p95 < {TARGET_READ_P95_MS} ms: "
        f"{'MET' if read['p95_ms'] < TARGET_READ_P95_MS else 'MISSED'})"
    )
    print(
        f"source change to API at {args.rate}/s: p50 {visible['p50_ms']} ms, p95 "
        f"{visible['p95_ms']} ms (target < {TARGET_VISIBLE_P95_MS:.0f} ms: "
        f"{'MET' if visible['p95_ms'] < TARGET_VISIBLE_P95_MS else 'MISSED'})"
    )
    payload = {
        "benchmark": "profiles",
        "date": _stack.now_iso(),
        "machine": _stack.machine(),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "resolution": shapes,
        "read": read,
        "change_to_api": visible,
        "targets": {
            "events_per_s": TARGET_EPS,
            "read_p95_ms": TARGET_READ_P95_MS,
            "visible_p95_ms": TARGET_VISIBLE_P95_MS,
        },
        "total_runtime_s": round(time.monotonic() - started, 1),
    }
    _stack.write_result(args.output, payload)
    return payload


if __name__ == "__main__":
    main()
