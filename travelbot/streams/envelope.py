"""Decoding records of the contract's topics into events; building envelopes for producers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from travelbot.streams.contract import CdcTopic, Change, EventTopic

MAX_RECORD_BYTES = 256 * 1024
MAX_KEY_BYTES = 1024


class PoisonRecord(ValueError):
    """A record that can never be applied; the message is the dead-letter reason."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    """One decoded change. `row` is the topic's row struct, None for a delete."""

    key: str
    op: str
    row: Any
    lsn: int
    source_ts_ms: int
    ts_ms: int | None
    system: str

    @property
    def is_delete(self) -> bool:
        return self.op == "d"


def decode_json(decoder: msgspec.json.Decoder[Any], raw: bytes, *, what: str, limit: int) -> Any:
    """Decode and validate in one call; every failure becomes a poison reason naming `what`."""
    if len(raw) > limit:
        raise PoisonRecord(f"{what} is {len(raw)} bytes, more than the {limit} allowed")
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise PoisonRecord(f"{what}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise PoisonRecord(f"{what} is not UTF-8 JSON: {exc}") from None


def decode_key(topic: CdcTopic | EventTopic, raw_key: bytes | None) -> Any:
    if raw_key is None:
        raise PoisonRecord("missing key (expected a JSON object with the entity's id)")
    return decode_json(topic.key_decoder, raw_key, what="key", limit=MAX_KEY_BYTES)


def decode_change(
    raw_key: bytes | None, raw_value: bytes | None, *, topic: CdcTopic
) -> ChangeEvent | None:
    """Decode and validate one CDC record. None means a tombstone, which carries nothing."""
    key = getattr(decode_key(topic, raw_key), topic.key_field)
    if raw_value is None:
        return None
    change: Change[Any] = decode_json(
        topic.value_decoder, raw_value, what="value", limit=MAX_RECORD_BYTES
    )
    row = None if change.op == "d" else _checked_row(change, key=key, key_field=topic.key_field)
    return ChangeEvent(
        key=key,
        op=change.op,
        row=row,
        lsn=change.source.lsn,
        source_ts_ms=change.source.ts_ms,
        ts_ms=change.ts_ms,
        system=change.source.system,
    )


def _checked_row(change: Change[Any], *, key: str, key_field: str) -> Any:
    if change.after is None:
        raise PoisonRecord(f"after is null for an {change.op!r} event (only d has no row)")
    row_key = getattr(change.after, key_field)
    if row_key != key:
        raise PoisonRecord(f"after.{key_field} {row_key!r} differs from the key {key!r}")
    return change.after


def decode_event(raw_key: bytes | None, raw_value: bytes | None, *, topic: EventTopic) -> Any:
    """Decode one plain event; a null value carries nothing and is skipped (None)."""
    decode_key(topic, raw_key)
    if raw_value is None:
        return None
    return decode_json(topic.value_decoder, raw_value, what="value", limit=MAX_RECORD_BYTES)


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
