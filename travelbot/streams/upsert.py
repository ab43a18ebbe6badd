"""Set-based, version-guarded writes of CDC events: one statement per table per batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection

from travelbot.streams.envelope import ChangeEvent


@dataclass(frozen=True)
class VersionedTable:
    """A table mirrored from a CDC topic; `columns` are the data columns' (name, Postgres type)."""

    table: str
    key: str
    columns: tuple[tuple[str, str], ...]

    def upsert_sql(self) -> str:
        names = [self.key, *(name for name, _ in self.columns)]
        arrays = ", ".join(
            [f"%s::{pg_type}[]" for pg_type in ["text", *(t for _, t in self.columns)]]
            + ["%s::bigint[]", "%s::timestamptz[]", "%s::boolean[]"]
        )
        updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
        columns = ", ".join(names)
        return (
            f"INSERT INTO {self.table} AS t ({columns}, version, as_of, deleted, applied_at) "
            f"SELECT u.*, clock_timestamp() FROM unnest({arrays}) "
            f"AS u({columns}, version, as_of, deleted) "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {updates}, version = excluded.version, "
            "as_of = excluded.as_of, deleted = excluded.deleted, applied_at = excluded.applied_at "
            "WHERE t.version < excluded.version"
        )


def latest_per_key(events: Iterable[ChangeEvent]) -> list[ChangeEvent]:
    """Keep the highest-lsn event of each key: one statement cannot touch a row twice."""
    latest: dict[str, ChangeEvent] = {}
    for event in events:
        current = latest.get(event.key)
        if current is None or event.lsn > current.lsn:
            latest[event.key] = event
    return list(latest.values())


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def versioned_upsert(
    *,
    table: VersionedTable,
    events: list[ChangeEvent],
    row_values: Callable[[dict[str, Any]], tuple[Any, ...]],
) -> int:
    """Apply events whose lsn beats the stored version; deletes leave a versioned marker.

    Returns the number of rows that changed.
    """
    latest = latest_per_key(events)
    if not latest:
        return 0
    empty = (None,) * len(table.columns)
    data = [empty if event.row is None else row_values(event.row) for event in latest]
    params: list[list[Any]] = [[event.key for event in latest]]
    params += [list(column) for column in zip(*data, strict=True)]
    params += [
        [event.lsn for event in latest],
        [ms_to_datetime(e.source_ts_ms) for e in latest],
        [event.is_delete for event in latest],
    ]
    with connection.cursor() as cursor:
        cursor.execute(table.upsert_sql(), params)
        return int(cursor.rowcount)
