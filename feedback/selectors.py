"""Reads of feedback analytics: KPI windows over a time range, and what arrived too late."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedback.models import KpiWindow, RatingEvent, StreamWatermark, TurnEvent
from feedback.windows import (
    BUCKETS,
    COUNTERS,
    Granularity,
    bucket_estimate_ms,
    window_start,
    window_starts,
)
from travelbot.streams import contract
from travelbot.timefmt import iso_z

# JSON name: the generated column holding the bucket of that percentile.
PERCENTILES = {
    "first_token_p50_ms": "first_token_p50_bucket",
    "first_token_p95_ms": "first_token_p95_bucket",
    "total_time_p50_ms": "total_time_p50_bucket",
    "total_time_p95_ms": "total_time_p95_bucket",
}
_ESTIMATES_MS = [round(bucket_estimate_ms(bucket)) for bucket in range(BUCKETS)]
_NO_PERCENTILES: dict[str, int | None] = dict.fromkeys(PERCENTILES)
_ZEROS = dict.fromkeys(COUNTERS, 0)


@dataclass(frozen=True)
class KpiRow:
    """One window's KPIs. Percentiles are in ms, within feedback.windows.RELATIVE_ERROR."""

    starts_at: datetime
    ends_at: datetime
    counts: dict[str, int]
    percentiles_ms: dict[str, int | None]

    @property
    def helpful_rate(self) -> float | None:
        ratings = self.counts["ratings"]
        return None if ratings == 0 else self.counts["helpful"] / ratings

    def json(self) -> dict[str, Any]:
        return {
            "start": iso_z(self.starts_at),
            "end": iso_z(self.ends_at),
            **self.counts,
            "helpful_rate": self.helpful_rate,
            **self.percentiles_ms,
        }


def kpi_windows(*, granularity: Granularity, start: datetime, end: datetime) -> list[KpiRow]:
    """Every window from the one holding `start` up to `end` (exclusive), in order; a window
    without events is a row of zeros (and no percentiles), not a gap."""
    stored = {
        row[0]: row[1:]
        for row in KpiWindow.objects.filter(
            granularity=granularity,
            starts_at__gte=window_start(start, granularity),
            starts_at__lt=end,
        ).values_list("starts_at", *COUNTERS, *PERCENTILES.values())
    }
    return [
        _row(starts_at, starts_at + granularity.step, stored.get(starts_at))
        for starts_at in window_starts(granularity, start, end)
    ]


def _row(starts_at: datetime, ends_at: datetime, values: tuple[Any, ...] | None) -> KpiRow:
    if values is None:
        return KpiRow(starts_at, ends_at, dict(_ZEROS), dict(_NO_PERCENTILES))
    counts = dict(zip(COUNTERS, values[: len(COUNTERS)], strict=True))
    buckets = values[len(COUNTERS) :]
    percentiles = {
        name: None if bucket is None else _ESTIMATES_MS[bucket]
        for name, bucket in zip(PERCENTILES, buckets, strict=True)
    }
    return KpiRow(starts_at, ends_at, counts, percentiles)


def late_dropped_totals() -> dict[str, int]:
    """How many distinct events each stream has dropped as too late, ever."""
    return {  # each count reads its ledger's partial index of late events only
        contract.FEEDBACK.name: RatingEvent.objects.filter(late=True).count(),
        contract.CHAT_TURNS.name: TurnEvent.objects.filter(late=True).count(),
    }


def stream_watermarks() -> dict[str, datetime]:
    """The newest event time each stream has delivered (absent before its first event)."""
    return dict(StreamWatermark.objects.values_list("stream", "newest_at"))
