"""Latency histograms: milliseconds counted in log-spaced buckets, percentiles read back from
the counts. The stream runtime's source-to-commit latency and the feedback KPIs' first-token
and total times both count this way, each with the buckets its stored histograms were made with.

A histogram is a list of counts, one per bucket, so histograms merge by element-wise sums.
Bucket 0 holds what is below the first bound, bucket i what is from bound i-1 up to (not
including) bound i, and the last bucket everything from the last bound on. The bounds grow by
a constant factor, so a bucket is never wider than a fixed fraction of what it holds.

A percentile is nearest-rank: the bucket holding the ceil(q * n)-th smallest value (the
smallest, for q = 0). The counts are exact, so that bucket holds the exact percentile; it is
reported as one value of the bucket, its geometric middle or the last whole ms in it.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class LogBuckets:
    """Bounds base^(k / steps) ms for k = 0 .. count - 1: `steps` buckets per factor of `base`.

    With `whole_ms`, each bound is rounded to a whole ms that is the last one of its bucket
    (equal rounded bounds make one bucket), so the next bucket starts one ms after it.
    """

    base: float
    steps: int
    count: int
    whole_ms: bool = False

    @cached_property
    def starts(self) -> tuple[float, ...]:
        """Where each bucket after bucket 0 starts."""
        # base ** (k / steps), not (base ** (1 / steps)) ** k: exact at whole powers of base.
        bounds = [self.base ** (k / self.steps) for k in range(self.count)]
        if self.whole_ms:
            return tuple(sorted({round(bound) + 1 for bound in bounds}))
        return tuple(bounds)

    @property
    def size(self) -> int:
        """How many buckets a histogram has (the last one holds everything past the bounds)."""
        return len(self.starts) + 1

    @property
    def relative_error(self) -> float:
        """How far a bucket's geometric middle can be from what it holds (within the bounds)."""
        return float(self.base ** (1 / (2 * self.steps)) - 1)

    def empty(self) -> list[int]:
        return [0] * self.size

    def bucket_of(self, ms: float) -> int:
        return bisect.bisect_right(self.starts, ms)

    def histogram(self, values: Iterable[float]) -> list[int]:
        counts = self.empty()
        for ms in values:
            counts[self.bucket_of(ms)] += 1
        return counts

    def middle(self, bucket: int) -> float:
        """The geometric middle of a bucket: 0 for bucket 0 (it starts at 0), and the start of
        the last bucket (a lower bound: longer than the histogram reaches)."""
        if bucket == 0:
            return 0.0
        if bucket == self.size - 1:
            return float(self.starts[-1])
        return math.sqrt(self.starts[bucket - 1] * self.starts[bucket])

    def last_whole_ms(self, bucket: int) -> float:
        """The longest whole ms a bucket holds; infinity for the last bucket."""
        if bucket == self.size - 1:
            return math.inf
        return float(math.ceil(self.starts[bucket]) - 1)


def percentile_bucket(counts: Sequence[int], quantile: float) -> int | None:
    """The bucket holding the nearest-rank `quantile` of a histogram; None when it is empty.

    The same definition as the SQL function feedback_cumulative_rank, which reads it from
    cumulative counts."""
    target = max(1, math.ceil(quantile * sum(counts)))
    seen = 0
    for bucket, count in enumerate(counts):
        seen += count
        if seen >= target:
            return bucket
    return None
