"""Decoding the contract's CDC envelope: what is accepted and why a record is poison."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inventory import contract
from tests.factories import envelope, flight_row
from travelbot.streams.envelope import PoisonRecord, decode_change

KEY = b'{"flight_id":"BA117-2026-12-01"}'


def decode(value: Any, key: bytes = KEY) -> Any:
    return decode_change(
        key, json.dumps(value).encode(), key_field="flight_id", schema=contract.FLIGHT
    )


def test_a_delete_needs_no_row() -> None:
    event = decode(envelope("d", flight_row(), lsn=4))
    assert (event.op, event.row, event.lsn) == ("d", None, 4)


def test_fields_the_contract_may_add_later_are_ignored() -> None:
    value = envelope("u", {**flight_row(), "aircraft": "A350"}, lsn=1)
    value["transaction"] = {"id": "tx-1"}
    assert decode(value).row["flight_id"] == "BA117-2026-12-01"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda v: v["source"].update(lsn=True), "source.lsn must be a non-negative integer"),
        (lambda v: v["source"].update(lsn=-1), "source.lsn must be a non-negative integer"),
        (lambda v: v.pop("source"), "source must be an object"),
        (lambda v: v.update(after=None), "after is null"),
        (lambda v: v["after"].update(departure_at="2026-12-01 08:25"), "after.departure_at"),
        (lambda v: v["after"].update(status="lost"), "after.status: expected one of"),
        (lambda v: v["after"].update(flight_id="XX1-2026-12-01"), "differs from the key"),
    ],
)
def test_a_broken_envelope_is_poison_with_a_reason(mutate: Any, reason: str) -> None:
    value = envelope("u", flight_row(), lsn=1)
    mutate(value)
    with pytest.raises(PoisonRecord, match=reason):
        decode(value)


def test_a_key_longer_than_its_column_is_poison_even_for_a_delete() -> None:
    key = json.dumps({"flight_id": "X" * 100}).encode()
    with pytest.raises(PoisonRecord, match="key.flight_id: longer than 64"):
        decode(envelope("d", None, lsn=1), key=key)


def test_a_tombstone_is_skipped() -> None:
    assert decode_change(KEY, None, key_field="flight_id", schema=contract.FLIGHT) is None
