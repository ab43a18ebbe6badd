"""Set-based, version-guarded writes of CDC events: one statement per table per batch.

`source.lsn` is ordered per source system only, so every row keeps the system that created
it: the key belongs to that system, and an event for the same key from another system is
refused (dead-lettered with that reason) instead of being compared with lsns it has no
order with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import msgspec
from django.db import connection, models

from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.registry import BatchResult

# Columns every mirrored table has besides its data (see inventory.models.Versioned).
BOOKKEEPING = ("version", "as_of", "deleted", "applied_at", "source_system")


@dataclass(frozen=True)
class VersionedTable:
    """A table mirrored from a CDC topic; `columns` are its data columns (name, Postgres type)."""

    table: str
    key: str
    columns: tuple[tuple[str, str], ...]

    @classmethod
    def for_model(cls, model: type[models.Model]) -> VersionedTable:
        """The model declares the columns once; the upsert reads them from it."""
        meta = model._meta
        data = [
            field
            for field in meta.concrete_fields
            if not field.primary_key and field.column not in BOOKKEEPING
        ]
        return cls(
            table=meta.db_table,
            key=str(meta.pk.column),
            columns=tuple((str(f.column), str(f.db_type(connection))) for f in data),
        )

    @cached_property
    def upsert_sql(self) -> str:
        """One statement per batch, whose plan cannot depend on table statistics: it joins
        nothing, and ON CONFLICT always probes the primary key. (A join to find foreign-owned
        keys was planned as a nested loop over a sequential scan when the statistics said
        the table was empty: 5,000 x 40,000 rows per batch.) The batch travels as a single
        JSON document that Postgres unpacks (json_to_recordset): psycopg would otherwise dump
        every element of every column array in Python, which cost more than the statement.
        Returns the keys written; a key owned by another source system is left alone."""
        names = [self.key, *(name for name, _ in self.columns)]
        definitions = ", ".join(
            [f"{self.key} text", *(f"{name} {pg_type}" for name, pg_type in self.columns)]
            + ["version bigint", "as_of_ms bigint", "deleted boolean", "source_system text"]
        )
        columns = ", ".join(names)
        updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
        return (
            f"INSERT INTO {self.table} AS t "
            f"({columns}, version, as_of, deleted, source_system, applied_at) "
            f"SELECT {columns}, version, to_timestamp(as_of_ms / 1000.0), deleted, "
            "source_system, clock_timestamp() "
            f"FROM json_to_recordset(%s::json) AS u({definitions}) "
            f"ON CONFLICT ({self.key}) DO UPDATE SET {updates}, version = excluded.version, "
            "as_of = excluded.as_of, deleted = excluded.deleted, "
            "source_system = excluded.source_system, applied_at = excluded.applied_at "
            "WHERE t.version < excluded.version "
            "AND t.source_system IN (excluded.source_system, '') "
            f"RETURNING {self.key}"
        )

    @cached_property
    def owners_sql(self) -> str:
        return (
            f"SELECT {self.key}, source_system FROM {self.table} "
            f"WHERE {self.key} = ANY(%s) AND source_system <> ''"
        )

    @cached_property
    def column_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.columns)

    def batch_document(
        self, events: list[ChangeEvent], row_values: Callable[[Any], dict[str, Any]]
    ) -> str:
        """The events as the JSON array the statement unpacks, each row's data by column
        name (`row_values` gives every data column); a delete clears the data."""
        cleared = dict.fromkeys(self.column_names)
        rows = []
        for event in events:
            values = cleared if event.row is None else row_values(event.row)
            if values.keys() != self.column_names:
                raise TypeError(
                    f"{self.table}: values for {sorted(values)}, "
                    f"but its data columns are {sorted(self.column_names)}"
                )
            rows.append(
                {
                    self.key: event.key,
                    **values,
                    "version": event.lsn,
                    "as_of_ms": event.source_ts_ms,
                    "deleted": event.is_delete,
                    "source_system": event.system,
                }
            )
        return msgspec.json.encode(rows).decode()


def latest_per_key(events: Iterable[ChangeEvent]) -> list[ChangeEvent]:
    """Keep the highest-lsn event of each key: one statement cannot touch a row twice."""
    latest: dict[str, ChangeEvent] = {}
    for event in events:
        current = latest.get(event.key)
        if current is None or event.lsn > current.lsn:
            latest[event.key] = event
    return list(latest.values())


def one_system_per_key(events: list[ChangeEvent]) -> tuple[list[ChangeEvent], BatchResult]:
    """Within a batch, the first system to write a key claims it; other systems' events for
    that key are refused (their lsns cannot be ordered against the claimant's)."""
    claimed: dict[str, str] = {}
    kept: list[ChangeEvent] = []
    refused = BatchResult()
    for event in events:
        owner = claimed.setdefault(event.key, event.system)
        if owner == event.system:
            kept.append(event)
        else:
            refused.rejected.append((event, _foreign_reason(event, owner)))
    return kept, refused


def _foreign_reason(event: ChangeEvent, owner: str) -> str:
    return (
        f"key {event.key!r} belongs to source system {owner!r}; "
        f"this event came from {event.system!r}"
    )


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def versioned_upsert(
    *,
    table: VersionedTable,
    events: list[ChangeEvent],
    row_values: Callable[[Any], dict[str, Any]],
) -> BatchResult:
    """Apply events whose lsn beats the stored version; deletes leave a versioned marker.

    `applied` counts the rows that changed; events for keys that another source system owns
    are returned as rejected.
    """
    kept, result = one_system_per_key(events)
    latest = latest_per_key(kept)
    if not latest:
        return result
    with connection.cursor() as cursor:
        cursor.execute(table.upsert_sql, [table.batch_document(latest, row_values)])
        written = {key for (key,) in cursor.fetchall()}
        result.applied = len(written)
        result.changed_keys = written
        # Keys not written were stale or duplicates, or belong to another source system.
        unwritten = {event.key: event.system for event in latest if event.key not in written}
        if unwritten:
            cursor.execute(table.owners_sql, [list(unwritten)])
            owners = {key: owner for key, owner in cursor.fetchall() if owner != unwritten[key]}
            result.rejected += [
                (event, _foreign_reason(event, owners[event.key]))
                for event in kept
                if event.key in owners
            ]
    return result
