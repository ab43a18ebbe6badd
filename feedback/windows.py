"""Event-time windows and latency histograms of the feedback KPIs: pure functions, no database.

Windows are UTC minutes, hours and days, named by their start. Every event contributes to the
window of its `occurred_at` at each granularity; a batch's contributions are summed here and
added to the stored windows in one statement (feedback.services).

Latencies are counted in a histogram (travelbot.histogram) of log-spaced buckets: bucket 0
holds 0 ms, then eight buckets per doubling from 1 ms up to 2^20 ms (17.5 minutes), and the
last bucket everything from 2^20 ms on. A percentile is read back as the geometric middle of
the bucket that holds its rank, within 2^(1/16) - 1 = 4.4% of the exact nearest-rank
percentile for anything from 1 ms to 17.5 minutes.

Windows store it cumulatively (element i: the latencies in buckets 0..i), which merges just
the same (cumulative counts of a sum are the sums of the cumulative counts) and lets Postgres
find the bucket of a percentile by binary search.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import accumulate

from travelbot.histogram import LogBuckets


class Granularity(StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=SECONDS[self])


# UTC has no leap seconds in epoch time: every day is 86,400 s, so windows are plain multiples.
SECONDS = {Granularity.MINUTE: 60, Granularity.HOUR: 3600, Granularity.DAY: 86_400}

BUCKETS_PER_DOUBLING = 8
DOUBLINGS = 20
# The buckets of KpiWindow's cumulative histograms.
LATENCY = LogBuckets(base=2, steps=BUCKETS_PER_DOUBLING, count=BUCKETS_PER_DOUBLING * DOUBLINGS + 1)
BUCKETS = LATENCY.size  # zero, the log-spaced ones, overflow
OVERFLOW_MS = 2**DOUBLINGS
RELATIVE_ERROR = LATENCY.relative_error
bucket_of = LATENCY.bucket_of
bucket_estimate_ms = LATENCY.middle  # what a percentile that falls in a bucket is reported as


def window_start(at: datetime, granularity: Granularity) -> datetime:
    return _from_epoch(_epoch_start(at, SECONDS[granularity]))


def windows_count(granularity: Granularity, start: datetime, end: datetime) -> int:
    """How many windows [window_start(start), end) spans."""
    span = (end - window_start(start, granularity)).total_seconds()
    return max(0, math.ceil(span / SECONDS[granularity]))


def window_starts(granularity: Granularity, start: datetime, end: datetime) -> Iterator[datetime]:
    first = window_start(start, granularity)
    for n in range(windows_count(granularity, start, end)):
        yield first + n * granularity.step


def _epoch_start(at: datetime, seconds: int) -> int:
    epoch = math.floor(at.timestamp())
    return epoch - epoch % seconds


def _from_epoch(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@dataclass(slots=True)
class WindowDelta:
    """What a batch adds to one window: counters named as the KpiWindow columns they add to,
    and plain (not cumulative) histograms."""

    conversations: int = 0
    turns: int = 0
    ratings: int = 0
    helpful: int = 0
    comments: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    late_dropped: int = 0
    first_token_histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    total_time_histogram: list[int] = field(default_factory=lambda: [0] * BUCKETS)

    def add(self, other: WindowDelta) -> None:
        for name in COUNTERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in HISTOGRAMS:
            mine, theirs = getattr(self, name), getattr(other, name)
            for bucket, count in enumerate(theirs):
                if count:
                    mine[bucket] += count

    def columns(self) -> dict[str, int | list[int]]:
        """The values to add to the window's columns."""
        counters: dict[str, int | list[int]] = {name: getattr(self, name) for name in COUNTERS}
        for histogram, column in HISTOGRAMS.items():
            counters[column] = list(accumulate(getattr(self, histogram)))
        return counters

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in COUNTERS) and not any(
            any(getattr(self, name)) for name in HISTOGRAMS
        )


HISTOGRAMS = {  # WindowDelta's histogram: the KpiWindow column of its cumulative counts
    "first_token_histogram": "first_token_cumulative",
    "total_time_histogram": "total_time_cumulative",
}
COUNTERS = tuple(f.name for f in fields(WindowDelta) if f.name not in HISTOGRAMS)
COLUMNS = COUNTERS + tuple(HISTOGRAMS.values())


class WindowDeltas:
    """A batch's contributions, summed by minute; hours and days are rolled up from them.

    A sign of -1 takes back what an earlier event contributed (a replaced rating, a
    conversation that turned out to start earlier).
    """

    def __init__(self) -> None:
        self._minutes: dict[int, WindowDelta] = {}

    def _minute(self, at: datetime) -> WindowDelta:
        key = _epoch_start(at, SECONDS[Granularity.MINUTE])
        delta = self._minutes.get(key)
        if delta is None:
            delta = self._minutes[key] = WindowDelta()
        return delta

    def add_turn(
        self,
        at: datetime,
        *,
        first_token_ms: int | None,
        total_ms: int | None,
        tokens_in: int,
        tokens_out: int,
    ) -> None:
        delta = self._minute(at)
        delta.turns += 1
        delta.tokens_in += tokens_in
        delta.tokens_out += tokens_out
        if first_token_ms is not None:
            delta.first_token_histogram[bucket_of(first_token_ms)] += 1
        if total_ms is not None:
            delta.total_time_histogram[bucket_of(total_ms)] += 1

    def add_rating(self, at: datetime, *, rating: int, commented: bool, sign: int = 1) -> None:
        delta = self._minute(at)
        delta.ratings += sign
        delta.helpful += sign * (rating == 1)
        delta.comments += sign * commented

    def add_conversation(self, at: datetime, *, sign: int = 1) -> None:
        self._minute(at).conversations += sign

    def add_late(self, at: datetime) -> None:
        self._minute(at).late_dropped += 1

    def by_window(self) -> dict[tuple[Granularity, datetime], WindowDelta]:
        """Every window the batch changes, at each granularity (windows that net out to
        nothing are left out)."""
        rolled: dict[tuple[Granularity, int], WindowDelta] = {}
        for minute, delta in self._minutes.items():
            if delta.is_empty():
                continue
            rolled[(Granularity.MINUTE, minute)] = delta
            for granularity in (Granularity.HOUR, Granularity.DAY):
                key = (granularity, minute - minute % SECONDS[granularity])
                rolled.setdefault(key, WindowDelta()).add(delta)
        return {
            (granularity, _from_epoch(start)): delta
            for (granularity, start), delta in rolled.items()
            if not delta.is_empty()
        }
