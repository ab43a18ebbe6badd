"""Validation of the KPI API's query parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from feedback.windows import Granularity, windows_count

MAX_ROWS = 10_000
# Far enough from datetime's limits that a window's end can always be computed.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class KpiQueryError(ValueError):
    """Why the parameters cannot be answered; the message is shown to the caller."""


@dataclass(frozen=True)
class KpiQuery:
    granularity: Granularity
    start: datetime
    end: datetime


def kpi_query_parse(params: Mapping[str, str]) -> KpiQuery:
    """`granularity` (minute, hour or day), `from` and `to`: ISO 8601 times or dates, UTC
    unless they say otherwise; `from` is rounded down to the start of its window."""
    granularity = _granularity(params.get("granularity", ""))
    start, end = _moment(params, "from"), _moment(params, "to")
    if start >= end:
        raise KpiQueryError("from must be earlier than to")
    rows = windows_count(granularity, start, end)
    if rows > MAX_ROWS:
        raise KpiQueryError(
            f"that range holds {rows:,} {granularity} windows; at most {MAX_ROWS:,} per request"
        )
    return KpiQuery(granularity=granularity, start=start, end=end)


def _granularity(value: str) -> Granularity:
    try:
        return Granularity(value)
    except ValueError:
        choices = ", ".join(g.value for g in Granularity)
        raise KpiQueryError(f"granularity must be one of {choices}") from None


def _moment(params: Mapping[str, str], name: str) -> datetime:
    value = params.get(name, "")
    if not value:
        raise KpiQueryError(f"{name} is required (an ISO 8601 time such as 2026-11-23T18:00Z)")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise KpiQueryError(
            f"{name} is not an ISO 8601 time: {value[:40]!r} (send + as %2B, or use Z)"
        ) from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    if not EARLIEST <= moment <= LATEST:
        raise KpiQueryError(f"{name} must lie between {EARLIEST:%Y} and {LATEST:%Y}")
    return moment
