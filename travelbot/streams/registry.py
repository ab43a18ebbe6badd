"""One registry of streams: topic, consumer group, decoder, handler and dead-letter topic.

Each app declares `STREAMS` in its `streams.py`; the registry collects them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.apps import apps
from django.conf import settings

from travelbot.streams.envelope import ChangeEvent, decode_change
from travelbot.streams.fields import Parser
from travelbot.streams.topics import dlq_topic

Decoder = Callable[[bytes | None, bytes | None], Any]
Handler = Callable[[list[Any]], int]


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


def _change_event_time(event: ChangeEvent) -> int:
    return event.source_ts_ms


def cdc_stream(
    *,
    topic: str,
    key_field: str,
    schema: dict[str, Parser],
    handle: Handler,
    group: str | None = None,
    name: str | None = None,
) -> StreamSpec:
    return StreamSpec(
        name=name or topic,
        contract_topic=topic,
        contract_group=group or f"travelbot.{topic}",
        decode=partial(decode_change, key_field=key_field, schema=schema),
        handle=handle,
        event_time_ms=_change_event_time,
    )


def registered_streams() -> dict[str, StreamSpec]:
    streams: dict[str, StreamSpec] = {}
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.streams")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.streams":
                raise
            continue
        for spec in getattr(module, "STREAMS", ()):
            streams[spec.name] = spec
    return streams


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
