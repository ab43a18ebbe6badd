"""Reads of feedback analytics: KPI windows over a time range, what arrived too late, what
not-helpful answers stood on, and the latest rated turns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db.models import Count, QuerySet
from django.db.models.functions import Trunc
from psycopg.rows import class_row

from chat.models import Rating as ChatRating
from feedback.models import CommentLabel, KpiWindow, RatingEvent, StreamWatermark, TurnEvent
from feedback.windows import (
    BUCKETS,
    COUNTERS,
    Granularity,
    bucket_estimate_ms,
    window_start,
    window_starts,
)
from travelbot.sql import fetch_all
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
_NO_SENTIMENT = dict.fromkeys(CommentLabel.Sentiment.values, 0)


@dataclass(frozen=True)
class KpiRow:
    """One window's KPIs. Percentiles are in ms, within feedback.windows.RELATIVE_ERROR."""

    starts_at: datetime
    ends_at: datetime
    counts: dict[str, int]
    percentiles_ms: dict[str, int | None]
    # Labelled comments by sentiment, in the window of their rating's time.
    sentiment: dict[str, int] = field(default_factory=lambda: dict(_NO_SENTIMENT))

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
            "sentiment": self.sentiment,
        }


def kpi_windows(*, granularity: Granularity, start: datetime, end: datetime) -> list[KpiRow]:
    """Every window from the one holding `start` up to `end` (exclusive), in order; a window
    without events is a row of zeros (and no percentiles), not a gap."""
    stored = {
        row["starts_at"]: row
        for row in KpiWindow.objects.filter(
            granularity=granularity,
            starts_at__gte=window_start(start, granularity),
            starts_at__lt=end,
        ).values("starts_at", *COUNTERS, *PERCENTILES.values())
    }
    rows = [
        _row(starts_at, starts_at + granularity.step, stored.get(starts_at))
        for starts_at in window_starts(granularity, start, end)
    ]
    by_start = {row.starts_at: row for row in rows}
    for starts_at, sentiment, count in _sentiment_counts(granularity, rows[0].starts_at, end):
        by_start[starts_at].sentiment[sentiment] = count
    return rows


def _sentiment_counts(
    granularity: Granularity, start: datetime, end: datetime
) -> list[tuple[datetime, str, int]]:
    """(window start, sentiment, labelled comments): the labels come from the classifier a
    little after their rating, so the mix is read from them, one grouped query."""
    labelled = CommentLabel.objects.filter(
        status=CommentLabel.Status.DONE,
        rating__occurred_at__gte=start,
        rating__occurred_at__lt=end,
    )
    grouped = (
        labelled.annotate(window=Trunc("rating__occurred_at", str(granularity), tzinfo=UTC))
        .values_list("window", "sentiment")
        .annotate(count=Count("pk"))
    )
    return [(window, sentiment, count) for window, sentiment, count in grouped]


def _row(starts_at: datetime, ends_at: datetime, values: dict[str, Any] | None) -> KpiRow:
    if values is None:
        return KpiRow(starts_at, ends_at, dict(_ZEROS), dict(_NO_PERCENTILES))
    counts = {name: values[name] for name in COUNTERS}
    percentiles = {
        name: None if values[column] is None else _ESTIMATES_MS[values[column]]
        for name, column in PERCENTILES.items()
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


# What causes bad answers: every rating in the range, attributed to what its turn stood on
# (provenance) and to its comment's topic. One statement; the jsonb arrays are unnested in
# Postgres, and each (dimension, key) counts a rating once however often the turn cites it.
BLAME_SQL = """
WITH rated AS (
  SELECT r.id AS rating_id, r.rating, t.id AS turn_id, t.provenance
  FROM chat_rating r JOIN chat_turn t ON t.id = r.turn_id
  WHERE r.occurred_at >= %(start)s AND r.occurred_at < %(end)s
),
documents AS (
  SELECT rated.*, d AS document
  FROM rated, jsonb_array_elements(coalesce(rated.provenance -> 'documents', '[]')) d
),
inventory AS (
  SELECT rated.*, i ->> 'kind' AS kind, i ->> 'id' AS record_id
  FROM rated, jsonb_array_elements(coalesce(rated.provenance -> 'inventory', '[]')) i
),
attributed AS (
  SELECT 'document' AS dimension, d.document ->> 'doc_id' AS key,
         coalesce(a.title, d.document ->> 'doc_id') AS label, d.rating_id, d.rating, d.turn_id
  FROM documents d LEFT JOIN knowledge_article a ON a.doc_id = d.document ->> 'doc_id'
  UNION ALL
  SELECT 'section', c.chunk_id, coalesce(k.title || ': ' || k.heading, c.chunk_id),
         d.rating_id, d.rating, d.turn_id
  FROM documents d
  CROSS JOIN jsonb_array_elements_text(coalesce(d.document -> 'chunk_ids', '[]')) c(chunk_id)
  LEFT JOIN knowledge_chunk k ON k.chunk_id = c.chunk_id
  UNION ALL
  SELECT 'topic', l.topic, l.topic, rated.rating_id, rated.rating, rated.turn_id
  FROM rated JOIN feedback_commentlabel l ON l.rating_id = rated.rating_id AND l.status = 'done'
  UNION ALL
  SELECT 'route', f.origin || '-' || f.destination, f.origin || ' → ' || f.destination,
         i.rating_id, i.rating, i.turn_id
  FROM inventory i
  LEFT JOIN inventory_fare fa ON i.kind = 'fare' AND fa.fare_id = i.record_id
  JOIN inventory_flight f ON f.flight_id =
    CASE i.kind WHEN 'flight' THEN i.record_id WHEN 'fare' THEN fa.flight_id END
  WHERE i.kind IN ('flight', 'fare') AND f.origin IS NOT NULL AND f.destination IS NOT NULL
  UNION ALL
  SELECT 'hotel', h.hotel_id, coalesce(h.name, h.hotel_id), i.rating_id, i.rating, i.turn_id
  FROM inventory i
  LEFT JOIN inventory_hotelrate hr ON i.kind = 'hotel_rate' AND hr.rate_id = i.record_id
  JOIN inventory_hotel h ON h.hotel_id =
    CASE i.kind WHEN 'hotel' THEN i.record_id WHEN 'hotel_rate' THEN hr.hotel_id END
  WHERE i.kind IN ('hotel', 'hotel_rate') AND NOT h.deleted
),
counted AS (
  SELECT dimension, key, min(label) AS label,
         count(DISTINCT rating_id) FILTER (WHERE rating < 0) AS not_helpful,
         count(DISTINCT rating_id) AS rated,
         (array_agg(DISTINCT turn_id::text) FILTER (WHERE rating < 0))[1:%(turns)s] AS turn_ids
  FROM attributed WHERE key IS NOT NULL
  GROUP BY dimension, key
)
SELECT dimension, key, label, not_helpful, rated, coalesce(turn_ids, '{}') AS turn_ids FROM (
  SELECT counted.*, row_number() OVER (
    PARTITION BY dimension
    ORDER BY not_helpful DESC, not_helpful::float / rated DESC, rated DESC, key
  ) AS place
  FROM counted WHERE not_helpful > 0
) ranked
WHERE place <= %(limit)s
ORDER BY not_helpful DESC, not_helpful::float / rated DESC, dimension, key
"""
BLAME_DIMENSIONS = ("document", "section", "topic", "route", "hotel")


@dataclass(frozen=True)
class BlameRow:
    """Something not-helpful answers stood on: `not_helpful` of the `rated` ratings of turns
    that used it; `turn_ids` are (up to a limit) the not-helpful turns."""

    dimension: str  # one of BLAME_DIMENSIONS
    key: str
    label: str
    not_helpful: int
    rated: int
    turn_ids: list[str]

    @property
    def not_helpful_rate(self) -> float:
        return self.not_helpful / self.rated


def bad_answer_causes(
    *, start: datetime, end: datetime, limit: int = 10, turns: int = 20
) -> list[BlameRow]:
    """What the not-helpful ratings given in [start, end) were attributed to, worst first:
    most not-helpful ratings, then the highest share. At most `limit` rows per dimension,
    each with up to `turns` turn ids; things no rating found unhelpful are left out."""
    params: dict[str, datetime | int] = {"start": start, "end": end, "limit": limit, "turns": turns}
    return fetch_all(BLAME_SQL, params, row=class_row(BlameRow))


@dataclass(frozen=True)
class RatedTurnFilters:
    """Empty values filter nothing."""

    rating: int | None = None
    sentiment: str = ""
    topic: str = ""
    doc_id: str = ""


def rated_turns_recent(*, filters: RatedTurnFilters, limit: int = 50) -> QuerySet[ChatRating]:
    """The latest ratings with their turns and comment labels, newest first."""
    ratings = ChatRating.objects.select_related("turn", "user", "label").order_by("-occurred_at")
    if filters.rating is not None:
        ratings = ratings.filter(rating=filters.rating)
    if filters.sentiment:
        ratings = ratings.filter(label__status="done", label__sentiment=filters.sentiment)
    if filters.topic:
        ratings = ratings.filter(label__status="done", label__topic=filters.topic)
    if filters.doc_id:  # jsonb containment, @>
        ratings = ratings.filter(turn__provenance__documents__contains=[{"doc_id": filters.doc_id}])
    return ratings[:limit]
