"""Writes of feedback analytics: a batch of either stream, and the KPI windows it changes.

Each batch runs in the stream runtime's transaction as two statements:

1. the stream's own tables, in one statement: its watermark moves up to the newest event
   time delivered; events new to its ledger are stored (a redelivered event id changes
   nothing), those that arrived too late are marked so; the accepted ones update the current
   ratings or the conversation starts. It returns what changed, old values included.
2. the windows those changes touch, at all three granularities, in one statement: counters
   and histograms are added to (feedback.windows sums the batch first).

Lateness, by watermark: the watermark of a stream is the newest `occurred_at` among all the
events it has delivered, counting those before each event in the same batch (delivery order,
so the outcome does not depend on how the runtime cut the batches). An event whose
`occurred_at` is earlier than the watermark at its arrival minus FEEDBACK_ALLOWED_LATENESS is
late: it is kept in the ledger marked late and counted, once per event id, in the
`late_dropped` of the windows it would have belonged to; it changes nothing else. Anything
later corrects its windows. An event stamped more than CLOCK_AHEAD_ALLOWED ahead of this
worker's clock is refused (dead-lettered): it would drag the watermark into the future and
make every later event late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.utils import timezone
from psycopg.rows import class_row

from feedback.models import (
    ConversationStart,
    KpiWindow,
    Rating,
    RatingEvent,
    StreamWatermark,
    TurnEvent,
)
from feedback.windows import COLUMNS, WindowDeltas
from travelbot.sql import fetch_all
from travelbot.streams import contract
from travelbot.streams.contract import ChatTurnEvent, FeedbackEvent
from travelbot.streams.registry import BatchResult
from travelbot.timefmt import iso_z

CLOCK_AHEAD_ALLOWED = timedelta(minutes=10)

E = TypeVar("E", FeedbackEvent, ChatTurnEvent)


@dataclass
class Arrivals:
    """A batch's events as they will be stored: the first arrival of each event id, each with
    the watermark horizon it arrived under (the newest event time delivered up to it)."""

    events: list[Any] = field(default_factory=list)
    horizons: list[datetime] = field(default_factory=list)
    refused: list[tuple[Any, str]] = field(default_factory=list)


def arrivals_screen(events: Sequence[E], *, now: datetime) -> Arrivals:
    arrivals = Arrivals()
    seen: set[str] = set()
    horizon: datetime | None = None
    limit = now + CLOCK_AHEAD_ALLOWED
    for event in events:
        if event.occurred_at > limit:
            arrivals.refused.append((event, _future_reason(event.occurred_at, now)))
            continue
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        horizon = event.occurred_at if horizon is None else max(horizon, event.occurred_at)
        arrivals.events.append(event)
        arrivals.horizons.append(horizon)
    return arrivals


def _future_reason(occurred_at: datetime, now: datetime) -> str:
    return (
        f"occurred_at {iso_z(occurred_at)} is more than {CLOCK_AHEAD_ALLOWED} ahead of the "
        f"clock ({iso_z(now)}): it would move the stream's watermark into the future"
    )


# --- feedback.events -----------------------------------------------------------------------

_WATERMARK = f"""
mark AS (
  INSERT INTO {StreamWatermark._meta.db_table} AS w (stream, newest_at)
  SELECT %(stream)s, max(horizon_at) FROM batch
  ON CONFLICT (stream) DO UPDATE SET newest_at = greatest(w.newest_at, excluded.newest_at)
  RETURNING old.newest_at AS before
)"""
_LATE = "occurred_at < greatest(horizon_at, (SELECT before FROM mark)) - %(lateness)s"

# Event ids compare byte-wise (COLLATE "C"), so a tie on occurred_at resolves the same way
# whatever the database's collation.
RATINGS_SQL = f"""
WITH batch AS (
  SELECT * FROM json_to_recordset(%(events)s::json) AS b(
    event_id text, conversation_id text, turn_id text, user_id text, rating smallint,
    comment text, occurred_at timestamptz, horizon_at timestamptz)
),
{_WATERMARK},
received AS (
  INSERT INTO {RatingEvent._meta.db_table}
    (event_id, conversation_id, turn_id, user_id, rating, comment, occurred_at, late,
     received_at)
  SELECT event_id, conversation_id, turn_id, user_id, rating, comment, occurred_at, {_LATE},
    clock_timestamp()
  FROM batch
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id, turn_id, user_id, rating, comment ~ '[^[:space:]]' AS commented,
    occurred_at, late
),
newest AS (
  SELECT DISTINCT ON (turn_id, user_id) * FROM received WHERE NOT late
  ORDER BY turn_id, user_id, occurred_at DESC, event_id COLLATE "C" DESC
),
replaced AS (
  INSERT INTO {Rating._meta.db_table} AS r
    (turn_id, user_id, event_id, rating, commented, occurred_at)
  SELECT turn_id, user_id, event_id, rating, commented, occurred_at FROM newest
  ON CONFLICT (turn_id, user_id) DO UPDATE SET event_id = excluded.event_id,
    rating = excluded.rating, commented = excluded.commented,
    occurred_at = excluded.occurred_at
  WHERE (excluded.occurred_at, excluded.event_id COLLATE "C")
      > (r.occurred_at, r.event_id COLLATE "C")
  RETURNING false AS late, old.occurred_at AS was_at, old.rating AS was_rating,
    old.commented AS was_commented, new.occurred_at, new.rating, new.commented
)
SELECT * FROM replaced
UNION ALL
SELECT true, NULL, NULL, NULL, occurred_at, rating, commented FROM received WHERE late
"""


def ratings_ingest(*, events: Sequence[FeedbackEvent], now: datetime | None = None) -> BatchResult:
    """Apply a batch of feedback.events: a rating replaces the same user's earlier rating of
    the turn (by occurred_at), moving its counts from the old event's windows to the new.
    `applied` counts the ratings that changed."""
    arrivals = arrivals_screen(events, now=now or timezone.now())
    result = BatchResult(rejected=arrivals.refused)
    if not arrivals.events:
        return result
    documents = [
        _rating_document(event, horizon)
        for event, horizon in zip(arrivals.events, arrivals.horizons, strict=True)
    ]
    deltas = WindowDeltas()
    for change in _stream_rows(
        RATINGS_SQL, stream=contract.FEEDBACK.name, documents=documents, row=_RatingChange
    ):
        if change.late:
            deltas.add_late(change.occurred_at)
            continue
        if change.was_at is not None and change.was_rating is not None:
            deltas.add_rating(
                change.was_at,
                rating=change.was_rating,
                commented=bool(change.was_commented),
                sign=-1,
            )
        deltas.add_rating(change.occurred_at, rating=change.rating, commented=change.commented)
        result.applied += 1
    kpi_windows_add(deltas=deltas)
    return result


def _rating_document(event: FeedbackEvent, horizon: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "conversation_id": event.conversation_id,
        "turn_id": event.turn_id,
        "user_id": event.user_id,
        "rating": event.rating,
        "comment": event.comment or "",
        "occurred_at": event.occurred_at,
        "horizon_at": horizon,
    }


# --- chat.turns ----------------------------------------------------------------------------

TURNS_SQL = f"""
WITH batch AS (
  SELECT * FROM json_to_recordset(%(events)s::json) AS b(
    event_id text, conversation_id text, turn_id text, user_id text, status text,
    first_token_ms integer, total_ms integer, tokens_in integer, tokens_out integer,
    occurred_at timestamptz, horizon_at timestamptz)
),
{_WATERMARK},
received AS (
  INSERT INTO {TurnEvent._meta.db_table}
    (event_id, conversation_id, turn_id, user_id, status, first_token_ms, total_ms,
     tokens_in, tokens_out, occurred_at, late, received_at)
  SELECT event_id, conversation_id, turn_id, user_id, status, first_token_ms, total_ms,
    tokens_in, tokens_out, occurred_at, {_LATE}, clock_timestamp()
  FROM batch
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id, conversation_id, occurred_at, late
),
starts AS (
  INSERT INTO {ConversationStart._meta.db_table} AS c (conversation_id, first_turn_at)
  SELECT conversation_id, min(occurred_at) FROM received WHERE NOT late
  GROUP BY conversation_id ORDER BY conversation_id
  ON CONFLICT (conversation_id) DO UPDATE SET first_turn_at = excluded.first_turn_at
  WHERE excluded.first_turn_at < c.first_turn_at
  RETURNING old.first_turn_at AS was_at, new.first_turn_at
)
SELECT event_id, late, NULL::timestamptz AS was_at, NULL::timestamptz AS first_turn_at
  FROM received
UNION ALL
SELECT NULL, NULL, was_at, first_turn_at FROM starts
"""


def turns_ingest(*, events: Sequence[ChatTurnEvent], now: datetime | None = None) -> BatchResult:
    """Apply a batch of chat.turns: each new turn counts in its windows (turns, latencies,
    tokens); a conversation counts in the window of its earliest turn, and moves there when an
    earlier turn of it arrives late. `applied` counts the turns counted."""
    arrivals = arrivals_screen(events, now=now or timezone.now())
    result = BatchResult(rejected=arrivals.refused)
    if not arrivals.events:
        return result
    by_id = {event.event_id: event for event in arrivals.events}
    documents = [
        _turn_document(event, horizon)
        for event, horizon in zip(arrivals.events, arrivals.horizons, strict=True)
    ]
    deltas = WindowDeltas()
    for change in _stream_rows(
        TURNS_SQL, stream=contract.CHAT_TURNS.name, documents=documents, row=_TurnChange
    ):
        if change.first_turn_at is not None:  # a conversation's first turn, moved or new
            if change.was_at is not None:
                deltas.add_conversation(change.was_at, sign=-1)
            deltas.add_conversation(change.first_turn_at)
        elif change.late:
            deltas.add_late(by_id[change.event_id].occurred_at)
        else:
            _turn_count(deltas, by_id[change.event_id])
            result.applied += 1
    kpi_windows_add(deltas=deltas)
    return result


def _turn_count(deltas: WindowDeltas, event: ChatTurnEvent) -> None:
    deltas.add_turn(
        event.occurred_at,
        first_token_ms=event.timings_ms.first_token,
        total_ms=event.timings_ms.total,
        tokens_in=event.tokens.prompt,
        tokens_out=event.tokens.completion,
    )


def _turn_document(event: ChatTurnEvent, horizon: datetime) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "conversation_id": event.conversation_id,
        "turn_id": event.turn_id,
        "user_id": event.user_id,
        "status": event.status,
        "first_token_ms": event.timings_ms.first_token,
        "total_ms": event.timings_ms.total,
        "tokens_in": event.tokens.prompt,
        "tokens_out": event.tokens.completion,
        "occurred_at": event.occurred_at,
        "horizon_at": horizon,
    }


@dataclass(frozen=True)
class _RatingChange:
    """A row of RATINGS_SQL: a late rating (counted as late only), or a rating that took
    effect, replacing the `was_*` one if there was one."""

    late: bool
    was_at: datetime | None
    was_rating: int | None  # was_rating and was_commented are NULL exactly when was_at is
    was_commented: bool | None
    occurred_at: datetime
    rating: int
    commented: bool


@dataclass(frozen=True)
class _TurnChange:
    """A row of TURNS_SQL: a turn received (event_id and late; the rest NULL), or a
    conversation's first turn time (first_turn_at, and was_at when it moved earlier; event_id
    and late NULL)."""

    event_id: str | None
    late: bool | None
    was_at: datetime | None
    first_turn_at: datetime | None


Change = TypeVar("Change")


def _stream_rows(
    sql: str, *, stream: str, documents: list[dict[str, Any]], row: type[Change]
) -> list[Change]:
    params: dict[str, Any] = {
        "events": msgspec.json.encode(documents).decode(),
        "stream": stream,
        "lateness": settings.FEEDBACK_ALLOWED_LATENESS,
    }
    return fetch_all(sql, params, row=class_row(row))


# --- KPI windows ---------------------------------------------------------------------------


def _windows_sql() -> str:
    """One upsert for all windows a batch changes, its columns read from the model. Rows go in
    window order, so two streams' batches lock shared windows in one order (no deadlock)."""
    meta = KpiWindow._meta
    by_name = {f.name: f for f in meta.concrete_fields}
    data = [(str(by_name[name].column), by_name[name]) for name in COLUMNS]
    definitions = ", ".join(
        ["granularity text", "starts_at timestamptz"]
        + [f"{column} {f.db_type(connection)}" for column, f in data]
    )
    columns = ", ".join(["granularity", "starts_at"] + [column for column, _ in data])
    updates = ", ".join(
        _cumulative_update(column)
        if isinstance(f, ArrayField)
        else f"{column} = k.{column} + excluded.{column}"
        for column, f in data
    )
    return (
        f"INSERT INTO {meta.db_table} AS k ({columns}) "
        f"SELECT {columns} FROM json_to_recordset(%s::json) AS d({definitions}) "
        "ORDER BY granularity, starts_at "
        f"ON CONFLICT (granularity, starts_at) DO UPDATE SET {updates}"
    )


def _cumulative_update(column: str) -> str:
    # Latencies are only ever added, so a delta whose last (total) count is 0 adds nothing:
    # ratings and dropped events skip the element-wise addition.
    return (
        f"{column} = CASE WHEN excluded.{column}[cardinality(excluded.{column})] = 0 "
        f"THEN k.{column} ELSE feedback_cumulative_add(k.{column}, excluded.{column}) END"
    )


WINDOWS_SQL = _windows_sql()


def kpi_windows_add(*, deltas: WindowDeltas) -> int:
    """Add a batch's contributions to the stored windows; returns how many windows changed."""
    rows = [
        {"granularity": granularity, "starts_at": starts_at, **delta.columns()}
        for (granularity, starts_at), delta in deltas.by_window().items()
    ]
    if not rows:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(WINDOWS_SQL, [msgspec.json.encode(rows).decode()])
    return len(rows)
