"""The real servers the suite runs on: pgvector, the broker through a consumer group, Redis."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from kafka import KafkaConsumer

from travelbot.streams.kafka import create_topics, make_producer


@pytest.mark.django_db
def test_postgres_stores_and_ranks_vectors() -> None:
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE probe (id int, embedding vector(3))")
        cursor.execute(
            "INSERT INTO probe VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')"
        )
        cursor.execute("SELECT id FROM probe ORDER BY embedding <=> '[1,0,0]' LIMIT 2")
        assert [row[0] for row in cursor.fetchall()] == [1, 3]


def test_a_message_round_trips_through_a_consumer_group() -> None:
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    servers = list(settings.KAFKA_BOOTSTRAP_SERVERS)
    create_topics(bootstrap_servers=servers, partitions=3, replication_factor=1, topics=[topic])
    producer = make_producer(servers)
    producer.send(topic, key={"id": "k1"}, value={"hello": "world"})
    producer.flush()
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=servers,
        group_id=f"group-{topic}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
    )
    received = []
    for _ in range(40):
        for records in consumer.poll(timeout_ms=500).values():
            received.extend(records)
        if received:
            break
    consumer.commit()
    consumer.close()
    assert [(r.key, r.value) for r in received] == [(b'{"id":"k1"}', b'{"hello":"world"}')]


def test_the_channels_layer_round_trips_through_redis() -> None:
    layer = get_channel_layer()
    assert layer is not None
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.send)(channel, {"type": "probe.message", "text": "hi"})
    assert async_to_sync(layer.receive)(channel) == {"type": "probe.message", "text": "hi"}
