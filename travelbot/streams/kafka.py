"""kafka-python clients configured from settings, and topic creation.

Every producer, consumer and admin client of the product is made here, from
`client_config`: the broker list and the connection's security (TLS, SASL).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.serializer import Serializer

from travelbot.streams.topics import all_topics


def encode_json(value: Any) -> bytes | None:
    if value is None:
        return None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


class JsonSerializer(Serializer):  # type: ignore[misc]
    def serialize(self, topic: str, headers: list[tuple[str, bytes]], data: Any) -> bytes | None:
        return encode_json(data)


def client_config(bootstrap_servers: list[str]) -> dict[str, Any]:
    """What every client needs to reach the brokers: their addresses and, when configured,
    TLS (KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL, KAFKA_SSL_*) and SASL credentials."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "security_protocol": settings.KAFKA_SECURITY_PROTOCOL,
    }
    if settings.KAFKA_SASL_MECHANISM:
        config |= {
            "sasl_mechanism": settings.KAFKA_SASL_MECHANISM,
            "sasl_plain_username": settings.KAFKA_SASL_USERNAME,
            "sasl_plain_password": settings.KAFKA_SASL_PASSWORD,
        }
    for option in ("cafile", "certfile", "keyfile"):
        path = getattr(settings, f"KAFKA_SSL_{option.upper()}")
        if path:
            config[f"ssl_{option}"] = path
    return config


def make_producer(bootstrap_servers: list[str], **overrides: Any) -> KafkaProducer:
    """A JSON producer that keeps per-key order: idempotent, acks from all replicas."""
    config: dict[str, Any] = {
        **client_config(bootstrap_servers),
        "acks": "all",
        "linger_ms": 20,
        "batch_size": 256 * 1024,
        "max_in_flight_requests_per_connection": 1,
        "key_serializer": JsonSerializer(),
        "value_serializer": JsonSerializer(),
        "retries": 5,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def make_raw_producer(bootstrap_servers: list[str], **overrides: Any) -> KafkaProducer:
    """A producer of bytes as given: dead letters and replays keep the original payload."""
    config: dict[str, Any] = {
        **client_config(bootstrap_servers),
        "acks": "all",
        "linger_ms": 5,
        "max_in_flight_requests_per_connection": 1,
        # Whatever the broker accepted once must fit again: let the broker's limit decide.
        "max_request_size": 16 * 1024 * 1024,
    }
    config.update(overrides)
    return KafkaProducer(**config)


# (topic, key, value, headers): a record to produce as it is.
Message = tuple[str, bytes | None, bytes | None, list[tuple[str, bytes]]]


def produce_checked(
    producer: KafkaProducer, messages: list[Message], *, timeout_s: float
) -> tuple[list[int], KafkaError | None]:
    """Send, flush and check every future: the indexes the broker acknowledged, and the first
    error (a refused send, a failed future, or the flush running out of time)."""
    futures = []
    error: KafkaError | None = None
    try:
        for topic, key, value, headers in messages:
            futures.append(producer.send(topic, key=key, value=value, headers=headers or None))
        producer.flush(timeout=timeout_s)
    except KafkaError as exc:
        error = exc
    acknowledged = [i for i, f in enumerate(futures) if f.is_done and f.succeeded()]
    if error is None and len(acknowledged) < len(messages):
        failed = [f.exception for f in futures if f.is_done and f.failed()]
        error = failed[0] if failed else KafkaTimeoutError("no acknowledgement in time")
    return acknowledged, error


def make_admin(bootstrap_servers: list[str], *, timeout_ms: int = 10000) -> KafkaAdminClient:
    return KafkaAdminClient(
        **client_config(bootstrap_servers),
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )


def make_consumer(bootstrap_servers: list[str], **options: Any) -> KafkaConsumer:
    """A consumer with the given options; the caller subscribes or assigns it."""
    return KafkaConsumer(**client_config(bootstrap_servers), **options)


def make_offsets_reader(bootstrap_servers: list[str]) -> KafkaConsumer:
    """A group-less consumer used only to read partition end offsets."""
    return make_consumer(bootstrap_servers, enable_auto_commit=False, request_timeout_ms=10000)


def create_topics(
    *,
    bootstrap_servers: list[str],
    partitions: int,
    replication_factor: int,
    topics: Iterable[str] | None = None,
    prefix: str = "",
    timeout_s: float = 30.0,
) -> list[str]:
    """Create missing topics; dead-letter topics get one partition. Returns those created."""
    wanted = list(topics) if topics is not None else [prefix + name for name in all_topics()]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = make_admin(bootstrap_servers)
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        existing = set(admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        new_topics = [
            NewTopic(
                name=name,
                num_partitions=1 if name.endswith(".dlq") else partitions,
                replication_factor=replication_factor,
            )
            for name in missing
        ]
        if new_topics:
            # Another process may create the same topics at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(new_topics)
        return missing
    finally:
        admin.close()
