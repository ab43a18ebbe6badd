"""Helpers for tests and benchmarks that run the stream runtime against the real broker."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from django.conf import settings
from kafka import KafkaConsumer
from kafka.consumer.fetcher import ConsumerRecord

from travelbot.streams.kafka import create_topics, make_producer, make_raw_producer
from travelbot.streams.registry import StreamSpec
from travelbot.streams.runtime import RuntimeConfig, StreamRunner
from travelbot.streams.supervisor import StreamSupervisor


def isolated(spec: StreamSpec, *, label: str = "") -> StreamSpec:
    """The same stream on its own fresh topic and group, so runs do not share offsets."""
    suffix = f"{label}{uuid.uuid4().hex[:8]}"
    isolated_spec = replace(
        spec,
        contract_topic=f"{spec.contract_topic}.{suffix}",
        contract_group=f"{spec.contract_group}.{suffix}",
    )
    create_topics(
        bootstrap_servers=servers(),
        partitions=settings.KAFKA_TOPIC_PARTITIONS,
        replication_factor=1,
        topics=[isolated_spec.topic, isolated_spec.dlq_topic],
    )
    return isolated_spec


def servers() -> list[str]:
    return list(settings.KAFKA_BOOTSTRAP_SERVERS)


def runtime_config(**overrides: Any) -> RuntimeConfig:
    return replace(RuntimeConfig.from_settings(), **overrides)


def publish(topic: str, messages: Iterable[tuple[dict[str, Any], dict[str, Any] | None]]) -> int:
    producer = make_producer(servers())
    count = 0
    for key, value in messages:
        producer.send(topic, key=key, value=value)
        count += 1
    producer.flush()
    producer.close()
    return count


def publish_raw(topic: str, messages: Iterable[tuple[bytes | None, bytes | None]]) -> None:
    producer = make_raw_producer(servers())
    for key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


class RunnerThread:
    """A StreamRunner in a background thread, stopped (and joined) by the test."""

    def __init__(
        self, spec: StreamSpec, config: RuntimeConfig | None = None, **runner: Any
    ) -> None:
        self.runner = StreamRunner(spec, config or runtime_config(), **runner)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.runner.run()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.error = exc

    def __enter__(self) -> RunnerThread:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.runner.stop()
        self.thread.join(timeout=30)


class SupervisorThread:
    """A supervised stream (as a worker runs it) in a background thread."""

    def __init__(
        self, spec: StreamSpec, config: RuntimeConfig | None = None, **supervisor: Any
    ) -> None:
        self.supervisor = StreamSupervisor(spec, config or runtime_config(), **supervisor)
        self.thread = threading.Thread(target=self.supervisor.run, daemon=True)

    def __enter__(self) -> SupervisorThread:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.supervisor.stop()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "the supervisor did not stop"


def wait_until(condition: Callable[[], bool], *, timeout_s: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what or condition}")


def committed_offsets(spec: StreamSpec) -> dict[int, int]:
    from travelbot.streams.kafka import make_admin

    admin = make_admin(servers())
    try:
        offsets = admin.list_group_offsets({spec.group: None}).get(spec.group, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == spec.topic}


def read_topic(topic: str | list[str], count: int) -> list[ConsumerRecord]:
    """The first `count` records of the topic(s), from the start (fewer after 10 s idle)."""
    topics = [topic] if isinstance(topic, str) else topic
    consumer = KafkaConsumer(
        *topics,
        bootstrap_servers=servers(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=10000,
    )
    records: list[ConsumerRecord] = []
    for record in consumer:
        records.append(record)
        if len(records) == count:
            break
    consumer.close()
    return records
