"""Reading KPI windows back: zero-filled ranges, percentiles in ms, dropped totals."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from feedback.models import CommentLabel
from feedback.selectors import kpi_windows, late_dropped_totals
from feedback.services import ratings_ingest, turns_ingest
from feedback.windows import RELATIVE_ERROR, Granularity
from tests.feedback.events import T0, rating_event, turn_event
from tests.feedback.rated import rated_turn
from travelbot.streams import contract

pytestmark = pytest.mark.django_db
MINUTE = timedelta(minutes=1)


def test_windows_without_events_are_rows_of_zeros_not_gaps() -> None:
    turns_ingest(events=[turn_event("t1", at=T0 + 2 * MINUTE)])
    rows = kpi_windows(granularity=Granularity.MINUTE, start=T0, end=T0 + 4 * MINUTE)
    assert [row.starts_at for row in rows] == [T0 + n * MINUTE for n in range(4)]
    assert [row.counts["turns"] for row in rows] == [0, 0, 1, 0]
    assert rows[0].percentiles_ms["first_token_p50_ms"] is None
    assert rows[0].helpful_rate is None


def test_the_range_starts_with_the_window_holding_from() -> None:
    rows = kpi_windows(granularity=Granularity.HOUR, start=T0 + 30 * MINUTE, end=T0 + 61 * MINUTE)
    assert [(row.starts_at, row.ends_at) for row in rows] == [
        (T0, T0 + 60 * MINUTE),
        (T0 + 60 * MINUTE, T0 + 120 * MINUTE),
    ]


def test_a_window_reports_its_rates_and_percentiles() -> None:
    ratings = [1, 1, 1, -1]
    ratings_ingest(
        events=[rating_event(f"r{n}", user=f"u{n}", rating=r) for n, r in enumerate(ratings)]
    )
    turns_ingest(events=[turn_event("t1", first_token_ms=1840, total_ms=6120)])
    (row,) = kpi_windows(granularity=Granularity.DAY, start=T0, end=T0 + MINUTE)
    assert row.helpful_rate == 0.75
    for name, exact in (("first_token_p95_ms", 1840), ("total_time_p50_ms", 6120)):
        assert abs(row.percentiles_ms[name] - exact) <= exact * RELATIVE_ERROR  # type: ignore[operator]


def test_dropped_events_are_totalled_per_stream(settings: SettingsWrapper) -> None:
    settings.FEEDBACK_ALLOWED_LATENESS = timedelta(hours=1)
    turns_ingest(events=[turn_event("new", at=T0 + timedelta(hours=3)), turn_event("old")])
    assert late_dropped_totals() == {contract.FEEDBACK.name: 0, contract.CHAT_TURNS.name: 1}


def test_each_window_carries_the_sentiment_mix_of_its_labelled_comments(
    django_user_model: Any,
) -> None:
    user = django_user_model.objects.create_user("ines")
    for sentiment, minute in (("negative", 0), ("negative", 0), ("positive", 1)):
        rating = rated_turn(user, comment="words", at=T0 + timedelta(minutes=minute))
        CommentLabel.objects.create(
            rating=rating, comment="words", sentiment=sentiment, topic="other", status="done"
        )
    pending = rated_turn(user, comment="later", at=T0)
    CommentLabel.objects.create(rating=pending, comment="later")  # not labelled yet
    rows = kpi_windows(granularity=Granularity.MINUTE, start=T0, end=T0 + timedelta(minutes=3))
    assert [row.sentiment for row in rows] == [
        {"positive": 0, "neutral": 0, "negative": 2},
        {"positive": 1, "neutral": 0, "negative": 0},
        {"positive": 0, "neutral": 0, "negative": 0},
    ]
