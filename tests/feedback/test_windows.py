"""Event-time windows and the latency histogram, without the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from feedback.models import KpiWindow
from feedback.windows import (
    BUCKETS,
    COLUMNS,
    OVERFLOW_MS,
    RELATIVE_ERROR,
    Granularity,
    WindowDeltas,
    bucket_estimate_ms,
    bucket_of,
    window_start,
    window_starts,
)

AT = datetime(2026, 11, 2, 9, 41, 27, 500_000, tzinfo=UTC)


@given(st.integers(min_value=1, max_value=OVERFLOW_MS - 1))
def test_every_latency_reads_back_within_the_quoted_relative_error(ms: int) -> None:
    estimate = bucket_estimate_ms(bucket_of(ms))
    assert abs(estimate - ms) / ms <= RELATIVE_ERROR


def test_the_quoted_relative_error_is_under_five_percent() -> None:
    assert 0.044 < RELATIVE_ERROR < 0.045


def test_buckets_cover_zero_to_overflow_in_order() -> None:
    assert bucket_of(0) == 0
    assert bucket_of(1) == 1
    assert bucket_of(OVERFLOW_MS - 1) == BUCKETS - 2
    assert bucket_of(OVERFLOW_MS) == bucket_of(10**12) == BUCKETS - 1
    assert [bucket_of(ms) for ms in range(1, 5000)] == sorted(
        bucket_of(ms) for ms in range(1, 5000)
    )


def test_windows_start_on_utc_boundaries_whatever_the_zone_of_the_time() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert window_start(paris, Granularity.MINUTE) == datetime(2026, 11, 2, 9, 41, tzinfo=UTC)
    assert window_start(paris, Granularity.HOUR) == datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert window_start(paris, Granularity.DAY) == datetime(2026, 11, 2, tzinfo=UTC)


def test_a_range_spans_the_window_holding_its_start_up_to_its_end() -> None:
    starts = list(window_starts(Granularity.HOUR, AT, AT + timedelta(hours=2)))
    assert starts == [datetime(2026, 11, 2, h, tzinfo=UTC) for h in (9, 10, 11)]


def test_a_batch_is_summed_by_minute_and_rolled_up_to_hours_and_days() -> None:
    deltas = WindowDeltas()
    deltas.add_turn(AT, first_token_ms=800, total_ms=None, tokens_in=10, tokens_out=4)
    deltas.add_turn(
        AT + timedelta(minutes=5), first_token_ms=None, total_ms=9, tokens_in=1, tokens_out=1
    )
    windows = deltas.by_window()
    assert len(windows) == 4  # two minutes, one hour, one day
    hour = windows[(Granularity.HOUR, datetime(2026, 11, 2, 9, tzinfo=UTC))]
    assert (hour.turns, hour.tokens_in, hour.tokens_out) == (2, 11, 5)
    assert sum(hour.first_token_histogram) == sum(hour.total_time_histogram) == 1


def test_contributions_that_net_out_change_no_window() -> None:
    deltas = WindowDeltas()
    deltas.add_rating(AT, rating=1, commented=True)
    deltas.add_rating(AT, rating=1, commented=True, sign=-1)
    assert deltas.by_window() == {}


def test_a_delta_adds_its_histograms_as_cumulative_counts() -> None:
    deltas = WindowDeltas()
    for ms in (0, 1, 1, 5000):
        deltas.add_turn(AT, first_token_ms=ms, total_ms=None, tokens_in=0, tokens_out=0)
    (delta, *_) = deltas.by_window().values()
    cumulative = delta.columns()["first_token_cumulative"]
    assert isinstance(cumulative, list)
    assert (cumulative[0], cumulative[1], cumulative[bucket_of(5000) - 1], cumulative[-1]) == (
        1,
        3,
        3,
        4,
    )


def test_every_delta_column_is_a_column_of_the_window_table() -> None:
    written = {
        f.name
        for f in KpiWindow._meta.concrete_fields
        if not f.generated and f.name not in ("granularity", "starts_at")
    }
    assert written == set(COLUMNS)
