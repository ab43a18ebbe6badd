"""The contract's change-data-capture envelope: decoding (consumers) and building (producers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from travelbot.streams.fields import Parser, parse_row

OPS = frozenset({"c", "u", "d", "r"})
MAX_RECORD_BYTES = 256 * 1024
MAX_KEY_BYTES = 1024
MAX_LSN = 2**63 - 1


class PoisonRecord(ValueError):
    """A record that can never be applied; the message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    key: str
    op: str
    row: dict[str, Any] | None
    lsn: int
    source_ts_ms: int
    ts_ms: int | None

    @property
    def is_delete(self) -> bool:
        return self.op == "d"


def load_json(raw: bytes, *, what: str, limit: int) -> Any:
    if len(raw) > limit:
        raise PoisonRecord(f"{what} is {len(raw)} bytes, more than the {limit} allowed")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PoisonRecord(f"{what} is not UTF-8 JSON: {exc}") from None


def decode_key(raw_key: bytes | None, *, key_field: str) -> str:
    if raw_key is None:
        raise PoisonRecord(f'missing key (expected {{"{key_field}": ...}})')
    key = load_json(raw_key, what="key", limit=MAX_KEY_BYTES)
    value = key.get(key_field) if isinstance(key, dict) else None
    if not isinstance(value, str) or not value or len(value) > 200:
        raise PoisonRecord(f"key must be an object with a non-empty string {key_field}")
    return value


def _positive_int(value: Any, *, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_LSN:
        raise PoisonRecord(f"{field} must be a non-negative integer")
    return value


def decode_change(
    raw_key: bytes | None, raw_value: bytes | None, *, key_field: str, schema: dict[str, Parser]
) -> ChangeEvent | None:
    """Decode and validate one CDC record. None means a tombstone, which carries nothing."""
    key = decode_key(raw_key, key_field=key_field)
    try:
        schema[key_field](key)  # a delete has no row, so the key alone must fit the column
    except ValueError as exc:
        raise PoisonRecord(f"key.{key_field}: {exc}") from None
    if raw_value is None:
        return None
    envelope = load_json(raw_value, what="value", limit=MAX_RECORD_BYTES)
    if not isinstance(envelope, dict):
        raise PoisonRecord("value must be a JSON object (the change envelope)")
    op = envelope.get("op")
    if op not in OPS:
        raise PoisonRecord(f"unknown op {op!r} (expected c, u, d or r)")
    source = envelope.get("source")
    if not isinstance(source, dict):
        raise PoisonRecord("source must be an object with lsn and ts_ms")
    lsn = _positive_int(source.get("lsn"), field="source.lsn")
    source_ts_ms = _positive_int(source.get("ts_ms"), field="source.ts_ms")
    ts_ms = envelope.get("ts_ms")
    emitted_ms = None if ts_ms is None else _positive_int(ts_ms, field="ts_ms")
    row = (
        None
        if op == "d"
        else _decode_row(envelope.get("after"), key=key, key_field=key_field, schema=schema)
    )
    return ChangeEvent(
        key=key, op=op, row=row, lsn=lsn, source_ts_ms=source_ts_ms, ts_ms=emitted_ms
    )


def _decode_row(
    after: Any, *, key: str, key_field: str, schema: dict[str, Parser]
) -> dict[str, Any]:
    if after is None:
        raise PoisonRecord("after is null for a c, u or r event")
    try:
        row = parse_row(after, schema, prefix="after")
    except ValueError as exc:
        raise PoisonRecord(str(exc)) from None
    if row.get(key_field) != key:
        raise PoisonRecord(f"after.{key_field} {row.get(key_field)!r} differs from the key {key!r}")
    return row


def make_change(
    *,
    op: str,
    after: dict[str, Any] | None,
    before: dict[str, Any] | None,
    system: str,
    table: str,
    lsn: int,
    source_ts_ms: int,
    ts_ms: int,
) -> dict[str, Any]:
    """Build an envelope exactly as the contract's replicators do."""
    return {
        "op": op,
        "before": before,
        "after": after,
        "source": {"system": system, "table": table, "lsn": lsn, "ts_ms": source_ts_ms},
        "ts_ms": ts_ms,
    }
