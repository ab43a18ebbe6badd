"""One consumer process for benchmarks/scale_out.py: the four inventory streams in threads.

    python benchmarks/_apply_process.py runtime   # StreamRunners, as a Celery worker runs them
    python benchmarks/_apply_process.py bare      # the ceiling: a bare consumer loop

The environment names the stack and KAFKA_TOPIC_PREFIX the run's topics. SIGTERM stops the
threads; the process then prints one JSON line per topic: records consumed, first fetch and
last commit (epoch seconds, comparable across processes).

The bare loop does what any consumer must and nothing more: poll, json.loads, keep the
highest lsn per key, one `INSERT ... SELECT unnest ... ON CONFLICT ... WHERE version <`,
commit, commit offsets. No validation, no dead letters, no positions, no figures.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "travelbot.settings")


class Tally:
    def __init__(self) -> None:
        self.records = 0
        self.first_fetch: float | None = None
        self.last_commit: float | None = None

    def fetched(self, count: int) -> None:
        if count and self.first_fetch is None:
            self.first_fetch = time.time()

    def committed(self, count: int) -> None:
        self.records += count
        self.last_commit = time.time()

    def as_dict(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "first_fetch": self.first_fetch,
            "last_commit": self.last_commit,
        }


def bare_row(table: str, row: dict[str, Any]) -> tuple[Any, ...]:
    """The data columns in table order, straight from the JSON (Postgres casts the text)."""
    if table == "inventory_flight":
        seats = row["seats_available"]
        return (
            row["carrier"],
            row["flight_number"],
            row["origin"],
            row["destination"],
            row["departure_at"],
            row["arrival_at"],
            row["status"],
            row["gate"],
            seats["economy"],
            seats["premium"],
            seats["business"],
        )
    if table == "inventory_fare":
        names = ("flight_id", "cabin", "fare_class", "amount", "currency", "refundable")
        return (*(row[n] for n in names), row["change_fee"], row["baggage_kg"])
    if table == "inventory_hotel":
        return (
            row["name"],
            row["city"],
            row["address"],
            row["stars"],
            json.dumps(row["amenities"]),
            row["latitude"],
            row["longitude"],
        )
    names = ("hotel_id", "night", "room_type", "rooms_available", "amount", "currency")
    return (*(row[n] for n in names), row["refundable"])


def bare_upsert_sql(table: Any) -> str:
    names = [table.key, *(name for name, _ in table.columns)]
    casts = ["text", *(pg_type for _, pg_type in table.columns)]
    arrays = ", ".join(
        [f"%s::{t}[]" for t in casts] + ["%s::bigint[]", "%s::timestamptz[]", "%s::boolean[]"]
    )
    columns = ", ".join(names)
    updates = ", ".join(f"{n} = excluded.{n}" for n in names[1:])
    return (
        f"INSERT INTO {table.table} AS t "
        f"({columns}, version, as_of, deleted, source_system, applied_at) "
        f"SELECT u.*, '', clock_timestamp() FROM unnest({arrays}) AS u({columns}, version, as_of, "
        f"deleted) ON CONFLICT ({table.key}) DO UPDATE SET {updates}, version = excluded.version, "
        "as_of = excluded.as_of, deleted = excluded.deleted, applied_at = excluded.applied_at "
        "WHERE t.version < excluded.version"
    )


def bare_loop(spec: Any, table: Any, tally: Tally, stop: threading.Event) -> None:
    from datetime import UTC, datetime

    from django.db import connection, transaction
    from kafka import KafkaConsumer

    from benchmarks._runners import runtime_config

    config = runtime_config()
    consumer = KafkaConsumer(
        spec.topic,
        bootstrap_servers=config.bootstrap_servers,
        group_id=spec.group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=config.session_timeout_ms,
        heartbeat_interval_ms=max(500, config.session_timeout_ms // 3),
        max_poll_records=config.max_records,
        fetch_max_wait_ms=config.fetch_max_wait_ms,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=16 * 1024 * 1024,
    )
    sql = bare_upsert_sql(table)
    empty = (None,) * len(table.columns)
    while not stop.is_set():
        polled = consumer.poll(timeout_ms=500, max_records=config.max_records)
        records = [record for batch in polled.values() for record in batch]
        tally.fetched(len(records))
        if not records:
            continue
        latest: dict[str, dict[str, Any]] = {}
        for record in records:
            if record.value is None:
                continue
            value = json.loads(record.value)
            key = next(iter(json.loads(record.key).values()))
            current = latest.get(key)
            if current is None or value["source"]["lsn"] > current["source"]["lsn"]:
                latest[key] = value
        keys = list(latest)
        rows = [
            empty if v["op"] == "d" else bare_row(table.table, v["after"]) for v in latest.values()
        ]
        params: list[list[Any]] = [keys, *([list(c) for c in zip(*rows, strict=True)] or [])]
        params += [
            [v["source"]["lsn"] for v in latest.values()],
            [datetime.fromtimestamp(v["source"]["ts_ms"] / 1000, UTC) for v in latest.values()],
            [v["op"] == "d" for v in latest.values()],
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
        consumer.commit()
        tally.committed(len(records))
    consumer.close(autocommit=False)
    connection.close()


def runtime_loop(spec: Any, tally: Tally, stop: threading.Event) -> None:
    from benchmarks._runners import BenchRunner, runtime_config

    def on_commit() -> None:
        tally.committed(runner.records_done - tally.records)

    runner = BenchRunner(spec, runtime_config(), on_commit=on_commit)
    poll = runner.poll_batch

    def timed_poll() -> Any:
        records = poll()
        tally.fetched(len(records))
        return records

    runner.poll_batch = timed_poll  # type: ignore[method-assign]

    def stop_on_signal() -> None:
        stop.wait()
        runner.stop()

    threading.Thread(target=stop_on_signal, daemon=True).start()
    runner.run()


def main(mode: str) -> None:
    import django

    django.setup()
    from inventory.streams import FARES, FLIGHTS, HOTEL_RATES, HOTELS, STREAMS

    tables = {
        "inventory.flights": FLIGHTS,
        "inventory.fares": FARES,
        "inventory.hotels": HOTELS,
        "inventory.hotel_rates": HOTEL_RATES,
    }
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    tallies = {spec.name: Tally() for spec in STREAMS}
    threads = [
        threading.Thread(
            target=bare_loop if mode == "bare" else runtime_loop,
            args=(
                (spec, tables[spec.name], tallies[spec.name], stop)
                if mode == "bare"
                else (spec, tallies[spec.name], stop)
            ),
            daemon=True,
        )
        for spec in STREAMS
    ]
    for thread in threads:
        thread.start()
    print("ready", flush=True)
    stop.wait()
    for thread in threads:
        thread.join(timeout=30)
    print(json.dumps({name: tally.as_dict() for name, tally in tallies.items()}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
