"""The staff feedback dashboard: which range and filters a request asks for, and what the page
shows for them (KPI charts and figures, the causes of bad answers, the latest rated turns).

A range without an explicit end follows the clock, so each poll of the live part moves on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from feedback.charts import Chart, line_chart
from feedback.forms import KpiQueryError, kpi_query_parse
from feedback.models import CommentLabel
from feedback.selectors import (
    KpiRow,
    RatedTurnFilters,
    bad_answer_causes,
    kpi_windows,
    rated_turns_recent,
)
from feedback.windows import Granularity

# How many windows a range without an explicit start shows.
DEFAULT_WINDOWS = {Granularity.MINUTE: 60, Granularity.HOUR: 24, Granularity.DAY: 30}
RATINGS = {"1": 1, "-1": -1}


@dataclass(frozen=True)
class DashboardQuery:
    granularity: Granularity
    start: datetime
    end: datetime
    live: bool  # the range ends now
    filters: RatedTurnFilters
    error: str = ""
    params: dict[str, str] = field(default_factory=dict)  # as the form shows them


def dashboard_query_parse(params: Mapping[str, str], *, now: datetime) -> DashboardQuery:
    """The range (`granularity`, optional `from` and `to`) and the rated-turn filters
    (`rating`, `sentiment`, `topic`, `doc`). A range it cannot answer falls back to the
    default one, with the reason in `error`; unknown filter values filter nothing."""
    shown = {name: params.get(name, "").strip() for name in ("granularity", "from", "to")}
    try:
        granularity = Granularity(shown["granularity"] or Granularity.HOUR)
    except ValueError:
        granularity, shown["granularity"] = Granularity.HOUR, ""
    filters = _filters(params)
    shown |= {"rating": params.get("rating", ""), "sentiment": filters.sentiment}
    shown |= {"topic": filters.topic, "doc": filters.doc_id}
    live = not shown["to"]
    default_start = now - (DEFAULT_WINDOWS[granularity] - 1) * granularity.step
    ranged = {"granularity": granularity.value, "to": shown["to"] or now.isoformat()}
    ranged["from"] = shown["from"] or default_start.isoformat()
    try:
        query = kpi_query_parse(ranged)
    except KpiQueryError as exc:
        return DashboardQuery(granularity, default_start, now, True, filters, str(exc), shown)
    return DashboardQuery(granularity, query.start, query.end, live, filters, "", shown)


def _filters(params: Mapping[str, str]) -> RatedTurnFilters:
    sentiment, topic = params.get("sentiment", ""), params.get("topic", "")
    return RatedTurnFilters(
        rating=RATINGS.get(params.get("rating", "")),
        sentiment=sentiment if sentiment in CommentLabel.Sentiment.values else "",
        topic=topic if topic in CommentLabel.Topic.values else "",
        doc_id=params.get("doc", "").strip()[:100],
    )


def dashboard_data(*, query: DashboardQuery, now: datetime) -> dict[str, Any]:
    """What the page and its live part render."""
    rows = kpi_windows(granularity=query.granularity, start=query.start, end=query.end)
    current = kpi_windows(granularity=query.granularity, start=now, end=now + timedelta(0, 0, 1))
    return {
        "query": query,
        "rows": rows,
        "current": current[0],
        "totals": kpi_totals(rows),
        "charts": kpi_charts(rows),
        "causes": bad_answer_causes(start=rows[0].starts_at, end=query.end),
        "rated_turns": rated_turns_recent(filters=query.filters),
        "sentiments": CommentLabel.Sentiment.choices,
        "topics": CommentLabel.Topic.choices,
    }


def kpi_totals(rows: list[KpiRow]) -> dict[str, Any]:
    totals = {name: sum(row.counts[name] for row in rows) for name in rows[0].counts}
    ratings = totals["ratings"]
    sentiment = {name: sum(row.sentiment[name] for row in rows) for name in rows[0].sentiment}
    helpful_rate = totals["helpful"] / ratings if ratings else None
    return {**totals, "helpful_rate": helpful_rate, "sentiment": sentiment}


def kpi_charts(rows: list[KpiRow]) -> list[Chart]:
    def series(name: str) -> list[float | None]:
        return [row.counts[name] for row in rows]

    def percentile(name: str) -> list[float | None]:
        return [row.percentiles_ms[name] for row in rows]

    return [
        line_chart(
            title="Turns and ratings per window",
            unit="",
            series={"turns": ("a", series("turns")), "ratings": ("b", series("ratings"))},
        ),
        line_chart(
            title="Helpful rate",
            unit="%",
            series={"helpful": ("b", [_percent(row.helpful_rate) for row in rows])},
            y_max=100,
        ),
        line_chart(
            title="Time to first token",
            unit="ms",
            series={
                "p50": ("a", percentile("first_token_p50_ms")),
                "p95": ("c", percentile("first_token_p95_ms")),
            },
        ),
    ]


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)
