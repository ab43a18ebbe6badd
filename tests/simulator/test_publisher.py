"""The feed simulator's publisher, through the real broker."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from harness.streaming import read_topic, servers
from inventory.streams import STREAMS
from simulator.changes import INVENTORY_TOPICS, Faults
from simulator.options import SimulatorOptions
from simulator.publisher import publish_snapshot, run_changes
from simulator.world import World, WorldSpec, generate_world
from travelbot.streams.envelope import PoisonRecord
from travelbot.streams.kafka import create_topics, make_producer, make_raw_producer
from travelbot.streams.registry import StreamSpec

PARTITIONS = 3
TINY = WorldSpec(days=2, routes=6, cities=2, hotels_per_city=(2, 2))
SPECS: dict[str, StreamSpec] = {spec.contract_topic: spec for spec in STREAMS}
TABLE_OF_TOPIC = {
    "inventory.flights": "flights",
    "inventory.fares": "fares",
    "inventory.hotels": "hotels",
    "inventory.hotel_rates": "hotel_rates",
}


@pytest.fixture
def producer() -> Iterator[KafkaProducer]:
    client = make_producer(servers())
    yield client
    client.close()


@pytest.fixture
def raw_producer() -> Iterator[KafkaProducer]:
    client = make_raw_producer(servers())
    yield client
    client.close()


def quiet(line: str) -> None:
    pass


def fresh_prefix() -> str:
    prefix = f"sim{uuid.uuid4().hex[:8]}."
    create_topics(
        bootstrap_servers=servers(),
        partitions=PARTITIONS,
        replication_factor=1,
        topics=[prefix + topic for topic in INVENTORY_TOPICS],
    )
    return prefix


def end_offsets(prefix: str) -> int:
    """Sum of the end offsets of the prefixed inventory topics: zero means no record.

    Not a record count: the embedded broker's offsets are not one per record."""
    consumer = KafkaConsumer(bootstrap_servers=servers())
    try:
        partitions = [
            TopicPartition(prefix + topic, partition)
            for topic in INVENTORY_TOPICS
            for partition in range(PARTITIONS)
        ]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


def read_all(prefix: str, count: int) -> list[ConsumerRecord]:
    return read_topic([prefix + topic for topic in INVENTORY_TOPICS], count)


def decode(prefix: str, record: ConsumerRecord) -> object:
    return SPECS[record.topic.removeprefix(prefix)].decode(record.key, record.value)


def tiny_world() -> World:
    return generate_world(TINY, seed=3)


def test_publish_snapshot_sends_every_entity_once(producer: KafkaProducer) -> None:
    prefix, world = fresh_prefix(), tiny_world()
    count = publish_snapshot(producer, world, report=quiet, topic_prefix=prefix)
    assert count == sum(world.size().values())
    for topic, table in TABLE_OF_TOPIC.items():
        records = read_topic(prefix + topic, len(world.rows[table]))
        assert len(records) == len({record.key for record in records}) == len(world.rows[table])


def test_every_published_record_decodes_under_its_topic_schema(producer: KafkaProducer) -> None:
    prefix = fresh_prefix()
    count = publish_snapshot(producer, tiny_world(), report=quiet, topic_prefix=prefix)
    records = read_all(prefix, count)
    assert len(records) == count
    for record in records:
        assert decode(prefix, record)


def test_run_changes_sustains_the_requested_rate(producer: KafkaProducer) -> None:
    prefix = fresh_prefix()
    options = SimulatorOptions(seed=0, rate=400, duration_s=2.0)
    counts = run_changes(producer, tiny_world(), options, report=quiet, topic_prefix=prefix)
    # Whole steps are sent, so the count may run a few records past the schedule.
    assert 720 <= counts.total() <= 830
    assert len(read_all(prefix, counts.total())) == counts.total()


def test_run_changes_stops_when_the_stop_event_is_set(producer: KafkaProducer) -> None:
    prefix, world, stop = fresh_prefix(), tiny_world(), threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    counts = run_changes(
        producer,
        world,
        SimulatorOptions(seed=0, rate=50),
        stop_event=stop,
        report=quiet,
        topic_prefix=prefix,
    )
    assert time.monotonic() - started < 2.0
    assert counts.total() > 0
    assert len(read_all(prefix, counts.total())) == counts.total()


def test_a_stop_never_splits_a_withdrawn_flight_from_its_fares(producer: KafkaProducer) -> None:
    prefix, world, stop = fresh_prefix(), tiny_world(), threading.Event()
    threading.Timer(0.3, stop.set).start()
    counts = run_changes(
        producer,
        world,
        SimulatorOptions(seed=0, rate=2000),
        stop_event=stop,
        report=quiet,
        topic_prefix=prefix,
    )
    # Three fares per flight, each delete followed by its tombstone.
    assert counts["withdrawn_fare"] == 3 * counts["withdrawn_flight"]
    assert counts["tombstone"] == 4 * counts["withdrawn_flight"] + counts["withdrawn_rate"]


def test_rate_zero_publishes_no_changes(producer: KafkaProducer) -> None:
    prefix = fresh_prefix()
    options = SimulatorOptions(seed=0, rate=0, duration_s=1.0)
    counts = run_changes(producer, tiny_world(), options, report=quiet, topic_prefix=prefix)
    assert counts.total() == 0
    producer.flush()
    assert end_offsets(prefix) == 0


def test_malformed_records_reach_the_broker_as_poison(
    producer: KafkaProducer, raw_producer: KafkaProducer
) -> None:
    prefix = fresh_prefix()
    counts = run_changes(
        producer,
        tiny_world(),
        SimulatorOptions(seed=0, rate=300, duration_s=0.5, faults=Faults(malformed_ratio=0.5)),
        raw_producer=raw_producer,
        report=quiet,
        topic_prefix=prefix,
    )
    records = read_all(prefix, counts.total())
    assert len(records) == counts.total()
    outcomes: Counter[str] = Counter()
    for record in records:
        if record.value is None:
            continue  # a tombstone: skipped by the decoder, neither valid nor poison
        try:
            decode(prefix, record)
            outcomes["valid"] += 1
        except PoisonRecord:
            outcomes["poison"] += 1
    assert outcomes["poison"] == sum(
        n for kind, n in counts.items() if kind.startswith("malformed")
    )
    assert outcomes["poison"] > 0 and outcomes["valid"] > 0


def test_summary_lines_count_events_by_kind(producer: KafkaProducer) -> None:
    lines: list[str] = []
    counts = run_changes(
        producer,
        tiny_world(),
        SimulatorOptions(seed=0, rate=100, duration_s=0.3),
        report=lines.append,
        topic_prefix=fresh_prefix(),
    )
    kind, count = counts.most_common(1)[0]
    assert lines[-1].startswith(f"changes: {counts.total()} events")
    assert f"{kind}={count}" in lines[-1]
