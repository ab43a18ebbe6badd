"""Event-time KPIs kept batch by batch equal the same KPIs computed at once over the events.

Random events of both streams are delivered in any order, with duplicates, split into random
batches; the windows must equal a plain computation over the same deliveries, and every
event that arrived beyond the allowed lateness must be counted as dropped, exactly once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import pytest
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django.fixtures import Settings as SettingsWrapper

from feedback.models import KpiWindow
from feedback.selectors import late_dropped_totals
from feedback.services import ratings_ingest, turns_ingest
from feedback.windows import BUCKETS, Granularity, bucket_of, window_start
from tests.feedback.events import T0, rating_event, turn_event
from travelbot.streams import contract
from travelbot.streams.contract import ChatTurnEvent, FeedbackEvent

LATENESS = timedelta(hours=2)
SPAN_S = 3 * 3600  # half as long again as the lateness: some events arrive too late
COUNTERS = (
    "conversations",
    "turns",
    "ratings",
    "helpful",
    "comments",
    "tokens_in",
    "tokens_out",
    "late_dropped",
)
HISTOGRAMS = ("first_token_cumulative", "total_time_cumulative")
PERCENTILES = {
    "first_token_p50_bucket": ("first_token", 0.5),
    "first_token_p95_bucket": ("first_token", 0.95),
    "total_time_p50_bucket": ("total_time", 0.5),
    "total_time_p95_bucket": ("total_time", 0.95),
}
E = TypeVar("E", FeedbackEvent, ChatTurnEvent)
Windows = dict[tuple[str, datetime], dict[str, Any]]

# Often on a half-hour grid, so ratings of one turn tie on occurred_at now and then.
offsets = st.one_of(st.integers(0, SPAN_S), st.integers(0, SPAN_S // 1800).map(lambda n: n * 1800))
latencies = st.one_of(st.none(), st.integers(0, 70_000))


@st.composite
def turns(draw: st.DrawFn) -> list[ChatTurnEvent]:
    specs = draw(
        st.lists(
            st.tuples(st.integers(0, 3), offsets, latencies, latencies, st.integers(0, 900)),
            max_size=14,
        )
    )
    return [
        turn_event(
            f"turn-{n}",
            at=T0 + timedelta(seconds=s),
            conversation=f"conv-{c}",
            first_token_ms=first,
            total_ms=total,
            tokens=(tokens, tokens // 3),
        )
        for n, (c, s, first, total, tokens) in enumerate(specs)
    ]


@st.composite
def ratings(draw: st.DrawFn) -> list[FeedbackEvent]:
    specs = draw(
        st.lists(
            st.tuples(
                st.integers(0, 2),
                st.integers(0, 1),
                offsets,
                st.sampled_from([1, -1]),
                st.booleans(),
            ),
            max_size=14,
        )
    )
    return [
        rating_event(
            f"rating-{n}",
            turn=f"turn-{t}",
            user=f"user-{u}",
            at=T0 + timedelta(seconds=s),
            rating=r,
            comment="Thanks" if c else None,
        )
        for n, (t, u, s, r, c) in enumerate(specs)
    ]


@dataclass
class Delivery:
    """Events in the order they arrive (duplicates included), cut into batches."""

    events: list[Any]
    batches: list[list[Any]]


@st.composite
def delivered(draw: st.DrawFn, events: st.SearchStrategy[list[E]]) -> Delivery:
    unique = draw(events)
    repeats = draw(st.lists(st.sampled_from(unique), max_size=5)) if unique else []
    order = draw(st.permutations(unique + repeats))
    batches, rest = [], list(order)
    while rest:
        size = draw(st.integers(1, 6))
        batches.append(rest[:size])
        rest = rest[size:]
    return Delivery(events=order, batches=batches)


@pytest.mark.django_db
@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(turn_delivery=delivered(turns()), rating_delivery=delivered(ratings()))
def test_windows_kept_batch_by_batch_equal_a_computation_over_all_events(
    settings: SettingsWrapper, turn_delivery: Delivery, rating_delivery: Delivery
) -> None:
    settings.FEEDBACK_ALLOWED_LATENESS = LATENESS
    _forget_everything()
    for batch in turn_delivery.batches:
        turns_ingest(events=batch)
    for batch in rating_delivery.batches:
        ratings_ingest(events=batch)

    turns_kept, turns_dropped = accepted_and_dropped(turn_delivery.events)
    ratings_kept, ratings_dropped = accepted_and_dropped(rating_delivery.events)
    expected = expected_windows(turns_kept, ratings_kept, turns_dropped + ratings_dropped)
    assert stored_windows() == expected
    assert late_dropped_totals() == {
        contract.CHAT_TURNS.name: len(turns_dropped),
        contract.FEEDBACK.name: len(ratings_dropped),
    }


def _forget_everything() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE feedback_kpiwindow, feedback_rating, feedback_ratingevent, "
            "feedback_turnevent, feedback_conversationstart, feedback_streamwatermark"
        )


# --- the plain computation -----------------------------------------------------------------


def accepted_and_dropped(events: Sequence[E]) -> tuple[list[E], list[E]]:
    """Each event id counts at its first arrival: accepted unless older than the newest event
    time delivered so far (itself included) minus the lateness."""
    seen: set[str] = set()
    newest: datetime | None = None
    kept: list[E] = []
    dropped: list[E] = []
    for event in events:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        newest = event.occurred_at if newest is None else max(newest, event.occurred_at)
        (dropped if event.occurred_at < newest - LATENESS else kept).append(event)
    return kept, dropped


def expected_windows(
    turns: list[ChatTurnEvent], ratings: list[FeedbackEvent], dropped: list[Any]
) -> Windows:
    windows: Windows = defaultdict(_empty_window)
    latencies: dict[tuple[str, datetime], dict[str, list[int]]] = defaultdict(
        lambda: {"first_token": [], "total_time": []}
    )
    for event in turns:
        for key in _windows_of(event.occurred_at):
            _count_turn(windows[key], latencies[key], event)
    for at in _conversation_starts(turns):
        for key in _windows_of(at):
            windows[key]["conversations"] += 1
    for rating in _latest_ratings(ratings):
        for key in _windows_of(rating.occurred_at):
            _count_rating(windows[key], rating)
    for event in dropped:
        for key in _windows_of(event.occurred_at):
            windows[key]["late_dropped"] += 1
    for key, window in windows.items():
        for column, (histogram, q) in PERCENTILES.items():
            window[column] = _nearest_rank_bucket(latencies[key][histogram], q)
    return dict(windows)


def _windows_of(at: datetime) -> list[tuple[str, datetime]]:
    return [(g.value, window_start(at, g)) for g in Granularity]


def _conversation_starts(turns: list[ChatTurnEvent]) -> list[datetime]:
    starts: dict[str, datetime] = {}
    for event in turns:
        known = starts.get(event.conversation_id, event.occurred_at)
        starts[event.conversation_id] = min(known, event.occurred_at)
    return list(starts.values())


def _empty_window() -> dict[str, Any]:
    return {**dict.fromkeys(COUNTERS, 0), **{h: [0] * BUCKETS for h in HISTOGRAMS}}


def _count_turn(
    window: dict[str, Any], latencies: dict[str, list[int]], turn: ChatTurnEvent
) -> None:
    window["turns"] += 1
    window["tokens_in"] += turn.tokens.prompt
    window["tokens_out"] += turn.tokens.completion
    for name, ms in (
        ("first_token", turn.timings_ms.first_token),
        ("total_time", turn.timings_ms.total),
    ):
        if ms is not None:
            for bucket in range(bucket_of(ms), BUCKETS):  # counts up to each bucket
                window[f"{name}_cumulative"][bucket] += 1
            latencies[name].append(ms)


def _latest_ratings(ratings: list[FeedbackEvent]) -> list[FeedbackEvent]:
    latest: dict[tuple[str, str], FeedbackEvent] = {}
    for event in ratings:
        key = (event.turn_id, event.user_id)
        current = latest.get(key)
        if current is None or (event.occurred_at, event.event_id) > (
            current.occurred_at,
            current.event_id,
        ):
            latest[key] = event
    return list(latest.values())


def _count_rating(window: dict[str, Any], rating: FeedbackEvent) -> None:
    window["ratings"] += 1
    window["helpful"] += rating.rating == 1
    window["comments"] += bool(rating.comment)


def _nearest_rank_bucket(values: list[int], q: float) -> int | None:
    if not values:
        return None
    rank = max(1, math.ceil(q * len(values)))
    return bucket_of(sorted(values)[rank - 1])


def stored_windows() -> Windows:
    """Every stored window with anything in it (a window whose counts moved away stays as a
    row of zeros, which says the same as no row)."""
    rows = KpiWindow.objects.values(
        "granularity", "starts_at", *COUNTERS, *HISTOGRAMS, *PERCENTILES
    )
    return {
        (row.pop("granularity"), row.pop("starts_at")): row
        for row in rows
        if any(row[c] for c in COUNTERS) or any(any(row[h]) for h in HISTOGRAMS)
    }
