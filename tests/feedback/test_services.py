"""The feedback stream handlers, called directly on decoded events (no broker)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from pytest_django.fixtures import Settings as SettingsWrapper

from feedback.models import KpiWindow, Rating, StreamWatermark
from feedback.services import ratings_ingest, turns_ingest
from feedback.windows import Granularity, bucket_of, window_start
from tests.feedback.events import T0, counts_at, rating_event, turn_event
from travelbot.streams import contract

pytestmark = pytest.mark.django_db
HOUR = timedelta(hours=1)


@pytest.fixture(autouse=True)
def lateness(settings: SettingsWrapper) -> timedelta:
    settings.FEEDBACK_ALLOWED_LATENESS = timedelta(hours=48)
    return settings.FEEDBACK_ALLOWED_LATENESS


def test_a_turn_counts_in_its_minute_hour_and_day() -> None:
    turns_ingest(events=[turn_event("t1", tokens=(120, 30))])
    for granularity in Granularity:
        window = KpiWindow.objects.get(
            granularity=granularity, starts_at=window_start(T0, granularity)
        )
        assert (window.turns, window.conversations) == (1, 1)
        assert (window.tokens_in, window.tokens_out) == (120, 30)


def test_a_duplicate_turn_counts_once_within_a_batch_and_across_batches() -> None:
    turns_ingest(events=[turn_event("t1"), turn_event("t1")])
    turns_ingest(events=[turn_event("t1")])
    assert counts_at(T0)["turns"] == 1


def test_a_duplicate_rating_counts_once() -> None:
    ratings_ingest(events=[rating_event("r1"), rating_event("r1")])
    ratings_ingest(events=[rating_event("r1")])
    assert counts_at(T0)["ratings"] == 1


@pytest.mark.parametrize("arrival", ["in order", "newest first"])
def test_the_latest_rating_by_occurred_at_wins_whatever_the_arrival_order(arrival: str) -> None:
    earlier = rating_event("r1", rating=1, at=T0)
    later = rating_event("r2", rating=-1, at=T0 + timedelta(seconds=10))
    batches = [[earlier], [later]] if arrival == "in order" else [[later], [earlier]]
    for batch in batches:
        ratings_ingest(events=batch)
    assert Rating.objects.get().event_id == "r2"
    assert {k: counts_at(T0)[k] for k in ("ratings", "helpful")} == {"ratings": 1, "helpful": 0}


@pytest.mark.parametrize(
    "arrival", [[["a", "b"]], [["b", "a"]], [["a"], ["b"]], [["b"], ["a"]]], ids=str
)
def test_ratings_that_tie_on_occurred_at_resolve_by_event_id_in_any_order(
    arrival: list[list[str]],
) -> None:
    events = {"a": rating_event("r-a", rating=1), "b": rating_event("r-b", rating=-1)}
    for batch in arrival:
        ratings_ingest(events=[events[name] for name in batch])
    assert Rating.objects.get().event_id == "r-b"
    assert rated(T0, Granularity.MINUTE) == (1, 0, 0)


def test_a_replaced_rating_moves_its_counts_to_the_window_of_the_new_one() -> None:
    ratings_ingest(events=[rating_event("r1", rating=1, at=T0, comment="Great")])
    ratings_ingest(events=[rating_event("r2", rating=-1, at=T0 + 2 * HOUR)])
    assert rated(T0, Granularity.HOUR) == (0, 0, 0)
    assert rated(T0 + 2 * HOUR, Granularity.HOUR) == (1, 0, 0)
    assert rated(T0, Granularity.DAY) == (1, 0, 0)


def rated(at: datetime, granularity: Granularity) -> tuple[int, int, int]:
    counts = counts_at(at, granularity)
    return counts["ratings"], counts["helpful"], counts["comments"]


def test_only_a_comment_with_text_counts_as_a_comment() -> None:
    ratings_ingest(
        events=[
            rating_event("r1", user="a", comment="Helpful, thanks"),
            rating_event("r2", user="b", comment="   "),
            rating_event("r3", user="c", comment=None),
        ]
    )
    assert (counts_at(T0)["ratings"], counts_at(T0)["comments"]) == (3, 1)


def test_a_late_event_within_the_bound_corrects_its_window(lateness: timedelta) -> None:
    turns_ingest(events=[turn_event("new", at=T0 + lateness)])
    turns_ingest(events=[turn_event("old", at=T0, conversation="conv-2")])
    assert counts_at(T0)["turns"] == counts_at(T0)["conversations"] == 1
    assert counts_at(T0)["late_dropped"] == 0


def test_an_event_beyond_the_bound_is_counted_as_dropped_and_nowhere_else(
    lateness: timedelta,
) -> None:
    ratings_ingest(events=[rating_event("new", turn="other", at=T0 + lateness + HOUR)])
    result = ratings_ingest(events=[rating_event("old", at=T0)])
    assert result.applied == 0
    assert (counts_at(T0)["ratings"], counts_at(T0)["late_dropped"]) == (0, 1)
    assert not Rating.objects.filter(event_id="old").exists()


def test_a_dropped_event_delivered_again_is_dropped_once(lateness: timedelta) -> None:
    turns_ingest(events=[turn_event("new", at=T0 + lateness + HOUR)])
    turns_ingest(events=[turn_event("old", at=T0), turn_event("old", at=T0)])
    turns_ingest(events=[turn_event("old", at=T0)])
    assert counts_at(T0)["late_dropped"] == 1


def test_lateness_follows_delivery_order_within_a_batch(lateness: timedelta) -> None:
    before = turn_event("before", at=T0)
    newest = turn_event("newest", at=T0 + lateness + HOUR, conversation="conv-2")
    after = turn_event("after", at=T0, conversation="conv-3")
    turns_ingest(events=[before, newest, after])
    assert (counts_at(T0)["turns"], counts_at(T0)["late_dropped"]) == (1, 1)
    assert (
        StreamWatermark.objects.get(stream=contract.CHAT_TURNS.name).newest_at == newest.occurred_at
    )


def test_a_conversation_counts_where_its_earliest_turn_is() -> None:
    turns_ingest(events=[turn_event("second", at=T0 + HOUR)])
    assert counts_at(T0 + HOUR)["conversations"] == 1
    turns_ingest(events=[turn_event("first", at=T0)])
    assert counts_at(T0 + HOUR)["conversations"] == 0
    assert counts_at(T0)["conversations"] == 1
    assert counts_at(T0, Granularity.DAY)["conversations"] == 1


def test_an_event_from_the_future_is_refused_and_leaves_the_watermark_alone() -> None:
    future = turn_event("future", at=timezone.now() + timedelta(days=3))
    result = turns_ingest(events=[future, turn_event("t1")])
    assert [
        (event.event_id, "ahead of the clock" in reason) for event, reason in result.rejected
    ] == [("future", True)]
    assert StreamWatermark.objects.get().newest_at == T0


def test_latency_percentiles_are_read_from_the_window_histogram() -> None:
    first_tokens = [100] * 10 + [1000] * 9 + [20_000]
    turns_ingest(
        events=[turn_event(f"t{n}", first_token_ms=ms) for n, ms in enumerate(first_tokens)]
    )
    window = KpiWindow.objects.get(granularity=Granularity.MINUTE, starts_at=T0)
    assert window.first_token_p50_bucket == bucket_of(100)
    assert window.first_token_p95_bucket == bucket_of(1000)
    assert window.total_time_p50_bucket == window.total_time_p95_bucket == bucket_of(3000)


def test_a_turn_without_timings_counts_without_latencies() -> None:
    turns_ingest(events=[turn_event("failed", first_token_ms=None, total_ms=None)])
    window = KpiWindow.objects.get(granularity=Granularity.MINUTE, starts_at=T0)
    assert window.turns == 1
    assert window.first_token_p50_bucket is None
