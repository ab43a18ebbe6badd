"""The feed simulator's publisher, through the real broker."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from inventory import contract
from inventory.simulator.changes import INVENTORY_TOPICS, Faults
from inventory.simulator.publisher import publish_snapshot, run_changes
from inventory.simulator.world import World, WorldSpec, generate_world
from tests.streaming import servers
from travelbot.streams.envelope import PoisonRecord, decode_change
from travelbot.streams.kafka import create_topics, make_producer, make_raw_producer

TINY = WorldSpec(days=2, routes=6, cities=2, hotels_per_city=(2, 2))
SCHEMAS = {
    "inventory.flights": ("flight_id", contract.FLIGHT),
    "inventory.fares": ("fare_id", contract.FARE),
    "inventory.hotels": ("hotel_id", contract.HOTEL),
    "inventory.hotel_rates": ("rate_id", contract.HOTEL_RATE),
}


def quiet(line: str) -> None:
    pass


def fresh_prefix() -> str:
    prefix = f"sim{uuid.uuid4().hex[:8]}."
    create_topics(
        bootstrap_servers=servers(),
        partitions=3,
        replication_factor=1,
        topics=[prefix + topic for topic in INVENTORY_TOPICS],
    )
    return prefix


def read_all(prefix: str, *, idle_ms: int = 2500) -> list[ConsumerRecord]:
    consumer = KafkaConsumer(
        *[prefix + topic for topic in INVENTORY_TOPICS],
        bootstrap_servers=servers(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=idle_ms,
    )
    records = list(consumer)
    consumer.close()
    return records


def tiny_world() -> World:
    return generate_world(TINY, seed=3)


def test_publish_snapshot_sends_every_entity_once() -> None:
    prefix, world = fresh_prefix(), tiny_world()
    producer = make_producer(servers())
    count = publish_snapshot(producer, world, report=quiet, topic_prefix=prefix)
    producer.close()
    records = read_all(prefix)
    assert count == len(records) == len({(r.topic, r.key) for r in records})
    assert count == sum(world.size().values())


def test_every_published_record_decodes_under_its_topic_schema() -> None:
    prefix = fresh_prefix()
    producer = make_producer(servers())
    publish_snapshot(producer, tiny_world(), report=quiet, topic_prefix=prefix)
    producer.close()
    for record in read_all(prefix):
        key_field, schema = SCHEMAS[record.topic.removeprefix(prefix)]
        assert decode_change(record.key, record.value, key_field=key_field, schema=schema)


def test_run_changes_sustains_the_requested_rate() -> None:
    prefix = fresh_prefix()
    producer = make_producer(servers())
    counts = run_changes(
        producer, tiny_world(), rate=400, duration_s=2.0, report=quiet, topic_prefix=prefix
    )
    producer.close()
    assert 720 <= counts.total() <= 820
    assert len(read_all(prefix)) == counts.total()


def test_run_changes_stops_when_the_stop_event_is_set() -> None:
    producer, stop = make_producer(servers()), threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    counts = run_changes(
        producer, tiny_world(), rate=50, stop_event=stop, report=quiet, topic_prefix=fresh_prefix()
    )
    producer.close()
    assert time.monotonic() - started < 2.0
    assert counts.total() > 0


def test_rate_zero_publishes_no_changes() -> None:
    prefix = fresh_prefix()
    producer = make_producer(servers())
    assert not run_changes(
        producer, tiny_world(), rate=0, duration_s=1.0, report=quiet, topic_prefix=prefix
    )
    producer.close()
    assert read_all(prefix, idle_ms=1000) == []


def test_malformed_records_reach_the_broker_as_poison() -> None:
    prefix = fresh_prefix()
    producer, raw = make_producer(servers()), make_raw_producer(servers())
    counts = run_changes(
        producer,
        tiny_world(),
        rate=300,
        duration_s=0.5,
        raw_producer=raw,
        faults=Faults(malformed_ratio=0.5),
        report=quiet,
        topic_prefix=prefix,
    )
    producer.close()
    raw.close()
    outcomes: Counter[str] = Counter()
    for record in read_all(prefix):
        key_field, schema = SCHEMAS[record.topic.removeprefix(prefix)]
        try:
            decode_change(record.key, record.value, key_field=key_field, schema=schema)
            outcomes["valid"] += 1
        except PoisonRecord:
            outcomes["poison"] += 1
    assert outcomes["poison"] == sum(
        n for kind, n in counts.items() if kind.startswith("malformed")
    )
    assert outcomes["poison"] > 0 and outcomes["valid"] > 0


def test_summary_lines_count_events_by_kind() -> None:
    lines: list[str] = []
    producer = make_producer(servers())
    counts = run_changes(
        producer,
        tiny_world(),
        rate=100,
        duration_s=0.3,
        report=lines.append,
        topic_prefix=fresh_prefix(),
    )
    producer.close()
    kind, count = counts.most_common(1)[0]
    assert lines[-1].startswith(f"changes: {counts.total()} events")
    assert f"{kind}={count}" in lines[-1]
