"""Load a simulated world straight into Postgres with the set-based stream handlers.

The snapshot events are encoded and decoded exactly as a consumer would see them (the
stream's own decoder: contract validation, timestamps, decimals), then applied in batches,
one transaction per batch, by the handlers the streams use. No broker involved.
Import only after `_stack.setup()`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.db import transaction

from inventory.streams import STREAMS
from simulator.changes import Change, snapshot_changes
from simulator.world import World
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.kafka import encode_json

BATCH = 5000


def decoded(changes: Iterable[Change]) -> dict[str, list[ChangeEvent]]:
    specs = {spec.contract_topic: spec for spec in STREAMS}
    events: dict[str, list[ChangeEvent]] = {topic: [] for topic in specs}
    for change in changes:
        event = specs[change.topic].decode(encode_json(change.key), encode_json(change.value))
        if event is not None:
            events[change.topic].append(event)
    return events


def apply_events(events: dict[str, list[ChangeEvent]], *, batch: int = BATCH) -> int:
    handlers = {spec.contract_topic: spec.handle for spec in STREAMS}
    applied = 0
    for topic, topic_events in events.items():
        for start in range(0, len(topic_events), batch):
            with transaction.atomic():
                applied += handlers[topic](topic_events[start : start + batch]).applied
    return applied


def load_world(world: World, *, tables: Iterable[str] | None = None) -> dict[str, float]:
    """Snapshot of `world` (only `tables` if given) into the inventory tables; returns timings."""
    wanted = set(tables) if tables is not None else None
    started = time.monotonic()
    changes = [
        c for c in snapshot_changes(world) if wanted is None or c.topic.split(".", 1)[1] in wanted
    ]
    events = decoded(changes)
    decoded_at = time.monotonic()
    rows = apply_events(events)
    return {
        "rows": rows,
        "decode_s": round(decoded_at - started, 2),
        "apply_s": round(time.monotonic() - decoded_at, 2),
        "rows_per_s": round(rows / max(time.monotonic() - decoded_at, 1e-9)),
    }
