"""One registry of streams: topic, consumer group, decoder, handler and dead-letter topic.

Each app declares `STREAMS` in its `streams.py`; the registry collects them by discovery.

A handler receives the decoded events of one batch inside the batch's database transaction
and may write to any tables it needs (set-based). It returns a `BatchResult`: how many rows
changed, and the events it refused with a reason (they become dead letters, and count
towards the poison ratio like records that fail to decode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.conf import settings

from travelbot.discovery import app_offers
from travelbot.streams.contract import CdcTopic, EventTopic
from travelbot.streams.envelope import decode_change, decode_event
from travelbot.streams.topics import dlq_topic


@dataclass
class BatchResult:
    applied: int = 0
    rejected: list[tuple[Any, str]] = field(default_factory=list)  # (event, reason)
    changed_keys: set[str] = field(default_factory=set)  # keys whose row this batch changed

    def __iadd__(self, other: BatchResult) -> BatchResult:
        self.applied += other.applied
        self.rejected += other.rejected
        self.changed_keys |= other.changed_keys
        return self


Decoder = Callable[[bytes | None, bytes | None], Any]
Handler = Callable[[list[Any]], BatchResult]


@dataclass(frozen=True)
class StreamSpec:
    """How one contract topic is consumed. `decode` raises PoisonRecord or returns None to skip.

    KAFKA_TOPIC_PREFIX namespaces topics and groups, for clusters shared between environments.
    """

    name: str
    contract_topic: str
    contract_group: str
    decode: Decoder
    handle: Handler
    event_time_ms: Callable[[Any], int | None]

    @property
    def topic(self) -> str:
        return settings.KAFKA_TOPIC_PREFIX + self.contract_topic

    @property
    def group(self) -> str:
        return settings.KAFKA_TOPIC_PREFIX + self.contract_group

    @property
    def dlq_topic(self) -> str:
        return dlq_topic(self.topic)


def _change_event_time(event: Any) -> int:
    return int(event.source_ts_ms)


def cdc_stream(*, topic: CdcTopic, handle: Handler, group: str | None = None) -> StreamSpec:
    return StreamSpec(
        name=topic.name,
        contract_topic=topic.name,
        contract_group=group or f"travelbot.{topic.name}",
        decode=partial(decode_change, topic=topic),
        handle=handle,
        event_time_ms=_change_event_time,
    )


def event_stream(
    *,
    topic: EventTopic,
    handle: Handler,
    event_time_ms: Callable[[Any], int | None],
    group: str | None = None,
) -> StreamSpec:
    return StreamSpec(
        name=topic.name,
        contract_topic=topic.name,
        contract_group=group or f"travelbot.{topic.name}",
        decode=partial(decode_event, topic=topic),
        handle=handle,
        event_time_ms=event_time_ms,
    )


def registered_streams() -> dict[str, StreamSpec]:
    return {
        spec.name: spec
        for offered in app_offers(module="streams", attribute="STREAMS")
        for spec in offered
    }


def stream_named(name: str) -> StreamSpec:
    streams = registered_streams()
    if name not in streams:
        raise KeyError(f"unknown stream {name!r}; known: {', '.join(sorted(streams)) or 'none'}")
    return streams[name]


def streams_selected(selection: list[str]) -> list[StreamSpec]:
    """Resolve WORKER_STREAMS: ["all"], ["none"] or explicit names."""
    streams = registered_streams()
    if selection == ["all"]:
        return list(streams.values())
    if selection in ([], ["none"]):
        return []
    return [stream_named(name) for name in selection]
