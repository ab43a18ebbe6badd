"""Stream health as JSON and in the Prometheus exposition format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from travelbot.selectors import StreamStatus
from travelbot.timefmt import iso_z


def stream_status_json(status: StreamStatus) -> dict[str, Any]:
    return {
        "stream": status.name,
        "topic": status.topic,
        "group": status.group,
        "dlq_topic": status.dlq_topic,
        "lag": {
            "total": status.lag_total,
            "error": status.lag_error or None,
            "partitions": [
                {"partition": p.partition, "committed": p.committed, "end": p.end, "lag": p.lag}
                for p in status.partitions
            ],
        },
        "events_per_second": round(status.events_per_second, 2),
        "freshness_seconds": None if status.freshness_s is None else round(status.freshness_s, 3),
        "source_to_commit_ms": {**status.latency_ms, "samples": status.latency_samples},
        "dead_letters": {
            "total": status.dead_letters_total,
            "pending": status.dead_letters_pending,
            "latest": [
                {
                    "id": d.id,
                    "partition": d.partition,
                    "offset": d.offset,
                    "reason": d.reason,
                    "at": iso_z(d.created_at),
                }
                for d in status.latest_reasons
            ],
        },
        "last_batch_at": iso_z(status.last_batch_at),
        "halted": status.halted_reason or None,
    }


class StreamStatusCollector(Collector):
    def __init__(self, statuses: list[StreamStatus]) -> None:
        self.statuses = statuses

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "travelbot_stream_lag_records",
            "Consumer group lag per partition (a lower bound on tansu)",
            labels=["stream", "partition"],
        )
        rate = GaugeMetricFamily(
            "travelbot_stream_events_per_second",
            "Records processed per second over the last minute",
            labels=["stream"],
        )
        fresh = GaugeMetricFamily(
            "travelbot_stream_freshness_seconds",
            "Now minus the event time of the newest applied event",
            labels=["stream"],
        )
        latency = GaugeMetricFamily(
            "travelbot_stream_source_to_commit_seconds",
            "Source-to-commit latency quantiles over the last 5 minutes",
            labels=["stream", "quantile"],
        )
        dead = GaugeMetricFamily(
            "travelbot_stream_dead_letters", "Dead letters stored", labels=["stream", "state"]
        )
        halted = GaugeMetricFamily(
            "travelbot_stream_halted", "1 when the stream halted", labels=["stream"]
        )
        for s in self.statuses:
            for p in s.partitions:
                lag.add_metric([s.name, str(p.partition)], p.lag)
            rate.add_metric([s.name], s.events_per_second)
            if s.freshness_s is not None:
                fresh.add_metric([s.name], s.freshness_s)
            for name, value in s.latency_ms.items():
                if value is not None:
                    latency.add_metric([s.name, f"0.{name[1:]}"], value / 1000)
            dead.add_metric([s.name, "pending"], s.dead_letters_pending)
            dead.add_metric([s.name, "replayed"], s.dead_letters_total - s.dead_letters_pending)
            halted.add_metric([s.name], 1 if s.halted_reason else 0)
        yield from (lag, rate, fresh, latency, dead, halted)


def prometheus_text(statuses: list[StreamStatus]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamStatusCollector(statuses))
    return generate_latest(registry)
