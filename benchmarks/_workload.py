"""Mixed inventory workloads from the feed simulator, with the final state they must produce.

A workload is the simulator's snapshot of a small world (op r: creates) followed by its change
stream (updates, several versions of hot keys, new flights and rates as op c, withdrawals as op
d plus tombstones) with a little at-least-once noise (duplicates and stale replays). The
expected final state per table follows the contract: per key, the event with the highest
lsn wins, deletes leave a marker. No Django needed here.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from simulator.changes import Change, ChangeGenerator, Faults, snapshot_changes
from simulator.world import WorldSpec, generate_world
from travelbot.streams.kafka import encode_json

TOPIC_TABLE = {
    "inventory.flights": "inventory_flight",
    "inventory.fares": "inventory_fare",
    "inventory.hotels": "inventory_hotel",
    "inventory.hotel_rates": "inventory_hotelrate",
}
FULL_WORLD_ROWS = 209_000  # WorldSpec() gives about 36k flights, 107k fares, 0.4k hotels, 65k rates
NOISE = Faults(duplicate_ratio=0.01, replay_ratio=0.01)


@dataclass
class TableState:
    rows: int = 0
    deleted: int = 0
    version_sum: int = 0

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.rows, self.deleted, self.version_sum)


@dataclass
class Workload:
    records: dict[str, list[tuple[bytes, bytes | None]]]
    expected: dict[str, TableState]
    kinds: Counter[str] = field(default_factory=Counter)
    ops: Counter[str] = field(default_factory=Counter)
    world_rows: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(records) for records in self.records.values())

    def summary(self) -> dict[str, Any]:
        versions = {
            topic: round(len(recs) / max(1, self.expected[topic].rows), 2)
            for topic, recs in self.records.items()
        }
        return {
            "records": self.total,
            "records_per_topic": {topic: len(recs) for topic, recs in self.records.items()},
            "final_rows_per_topic": {t: s.rows for t, s in self.expected.items()},
            "final_deleted_per_topic": {t: s.deleted for t, s in self.expected.items()},
            "records_per_key": versions,
            "ops": dict(self.ops),
            "kinds": dict(self.kinds.most_common()),
            "snapshot_world_rows": self.world_rows,
        }


def build_mixed(
    events: int,
    *,
    seed: int = 7,
    snapshot_share: float = 0.4,
    faults: Faults = NOISE,
    now: datetime | None = None,
) -> Workload:
    """About `snapshot_share` of `events` as the snapshot of a world sized for it, the rest
    changes; exactly `events` records in total."""
    fraction = min(1.0, snapshot_share * events / FULL_WORLD_ROWS)
    world = generate_world(WorldSpec().scaled(fraction), seed=seed, now=now)
    items: list[Change] = list(itertools.islice(snapshot_changes(world), events))
    world_rows = world.size()
    generator = ChangeGenerator(world, seed=seed, faults=faults)
    items += itertools.islice((i for i in generator if isinstance(i, Change)), events - len(items))
    return workload_of(items, world_rows=world_rows)


def workload_of(items: list[Change], *, world_rows: dict[str, int] | None = None) -> Workload:
    records: dict[str, list[tuple[bytes, bytes | None]]] = {topic: [] for topic in TOPIC_TABLE}
    latest: dict[str, dict[str, tuple[int, bool]]] = {topic: {} for topic in TOPIC_TABLE}
    workload = Workload(records=records, expected={}, world_rows=world_rows or {})
    for item in items:
        key_bytes = encode_json(item.key)
        assert key_bytes is not None
        records[item.topic].append((key_bytes, encode_json(item.value)))
        workload.kinds[item.kind] += 1
        if item.value is None:
            workload.ops["tombstone"] += 1
            continue
        workload.ops[item.value["op"]] += 1
        key = next(iter(item.key.values()))
        lsn = item.value["source"]["lsn"]
        current = latest[item.topic].get(key)
        if current is None or lsn > current[0]:
            latest[item.topic][key] = (lsn, item.value["op"] == "d")
    for topic, keys in latest.items():
        workload.expected[topic] = TableState(
            rows=len(keys),
            deleted=sum(1 for _, deleted in keys.values() if deleted),
            version_sum=sum(lsn for lsn, _ in keys.values()),
        )
    return workload
