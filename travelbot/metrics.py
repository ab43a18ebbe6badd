"""Stream health as JSON and in the Prometheus exposition format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from travelbot.selectors import RunnerView, State, StreamStatus
from travelbot.timefmt import iso_z


def stream_status_json(status: StreamStatus) -> dict[str, Any]:
    return {
        "stream": status.name,
        "state": status.state,
        "state_reason": status.state_reason or None,
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
        "runners": [_runner_json(r) for r in status.runners],
        "failures": {
            "total": status.failures_total,
            "recent": [
                {
                    "at": iso_z(f.occurred_at),
                    "runner": f.runner_id,
                    "exception": f.exception,
                    "message": f.message,
                    "count": f.count,
                }
                for f in status.recent_failures
            ],
        },
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
                    "produced": d.produced_at is not None,
                    "replayed_at": iso_z(d.replayed_at),
                }
                for d in status.latest_letters
            ],
        },
        "last_batch_at": iso_z(status.last_batch_at),
        "halted": status.halted_reason if status.halted_at else None,
        "log_reset": (
            {"at": iso_z(status.log_reset_at), "detail": status.log_reset_detail}
            if status.log_reset_at
            else None
        ),
    }


def _runner_json(runner: RunnerView) -> dict[str, Any]:
    return {
        "id": runner.runner_id,
        "host": runner.hostname,
        "state": runner.state,
        "alive": runner.alive,
        "heartbeat_at": iso_z(runner.heartbeat_at),
        "partitions": runner.partitions,
        "failures": runner.failures,
        "last_failure": runner.last_failure or None,
        "last_failure_at": iso_z(runner.last_failure_at),
        "next_retry_at": iso_z(runner.next_retry_at),
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
        up = GaugeMetricFamily(
            "travelbot_stream_up",
            "1 when a live runner consumes the stream (0: down or halted)",
            labels=["stream"],
        )
        stalled = GaugeMetricFamily(
            "travelbot_stream_stalled", "1 when lag waits with no progress", labels=["stream"]
        )
        runners = GaugeMetricFamily(
            "travelbot_stream_runners_alive", "Runners with a recent heartbeat", labels=["stream"]
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
            halted.add_metric([s.name], 1 if s.state == State.HALTED else 0)
            up.add_metric([s.name], 0 if s.state in (State.DOWN, State.HALTED) else 1)
            stalled.add_metric([s.name], 1 if s.state == State.STALLED else 0)
            runners.add_metric([s.name], sum(1 for r in s.runners if r.alive))
        yield from (lag, rate, fresh, latency, dead, halted, up, stalled, runners)


class HealthCollector(Collector):
    def __init__(self, health: dict[str, dict[str, object]]) -> None:
        self.health = health

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "travelbot_health_check_ok",
            "1 when the service check (broker, streams, model) passes",
            labels=["check"],
        )
        for name, result in self.health.items():
            ok.add_metric([name], 1 if result["ok"] else 0)
        yield ok


def prometheus_text(
    statuses: list[StreamStatus], health: dict[str, dict[str, object]] | None = None
) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StreamStatusCollector(statuses))
    if health is not None:
        registry.register(HealthCollector(health))
    return generate_latest(registry)
