"""Decoding the contract's CDC envelope: what is accepted and why a record is poison."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import envelope, fare_row, flight_row
from travelbot.streams import contract
from travelbot.streams.envelope import PoisonRecord, decode_change

KEY = b'{"flight_id":"BA117-2026-12-01"}'


def decode(value: Any, key: bytes = KEY, topic: contract.CdcTopic = contract.FLIGHTS) -> Any:
    return decode_change(key, json.dumps(value).encode(), topic=topic)


def test_a_delete_needs_no_row() -> None:
    event = decode(envelope("d", flight_row(), lsn=4))
    assert (event.op, event.row, event.lsn) == ("d", None, 4)


def test_the_source_system_travels_with_the_event() -> None:
    assert decode(envelope("u", flight_row(), lsn=1)).system == "gds"


def test_fields_the_contract_may_add_later_are_ignored() -> None:
    value = envelope("u", {**flight_row(), "aircraft": "A350"}, lsn=1)
    value["transaction"] = {"id": "tx-1"}
    assert decode(value).row.flight_id == "BA117-2026-12-01"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda v: v["source"].update(lsn=True), "Expected `int`, got `bool` - at `$.source.lsn`"),
        (lambda v: v["source"].update(lsn=-1), "Expected `int` >= 0 - at `$.source.lsn`"),
        (lambda v: v["source"].pop("system"), "missing required field `system`"),
        (lambda v: v.pop("source"), "missing required field `source`"),
        (lambda v: v.update(op="x"), "Invalid enum value 'x' - at `$.op`"),
        (lambda v: v.update(after=None), "after is null for an 'u' event"),
        (
            lambda v: v["after"].update(departure_at="2026-12-01 08:25"),
            "at `$.after.departure_at`",
        ),
        (
            lambda v: v["after"].update(departure_at="2026-12-01T08:25:00"),
            "Expected `datetime` with a timezone component - at `$.after.departure_at`",
        ),
        (lambda v: v["after"].update(status="lost"), "Invalid enum value 'lost'"),
        (lambda v: v["after"].update(flight_id="XX1-2026-12-01"), "differs from the key"),
        (
            lambda v: v["after"]["seats_available"].update(economy="37"),
            "Expected `int`, got `str` - at `$.after.seats_available.economy`",
        ),
    ],
)
def test_a_broken_envelope_is_poison_with_a_reason(mutate: Any, reason: str) -> None:
    value = envelope("u", flight_row(), lsn=1)
    mutate(value)
    with pytest.raises(PoisonRecord) as caught:
        decode(value)
    assert reason in str(caught.value)


def test_a_key_longer_than_its_column_is_poison_even_for_a_delete() -> None:
    key = json.dumps({"flight_id": "X" * 100}).encode()
    with pytest.raises(PoisonRecord, match="length <= 64 - at `\\$.flight_id`"):
        decode(envelope("d", None, lsn=1), key=key)


def test_a_tombstone_is_skipped() -> None:
    assert decode_change(KEY, None, topic=contract.FLIGHTS) is None


def test_a_value_that_is_not_json_is_poison() -> None:
    with pytest.raises(PoisonRecord, match="value is not UTF-8 JSON"):
        decode_change(KEY, b"not json", topic=contract.FLIGHTS)


FARE_KEY = b'{"fare_id":"BA117-2026-12-01:economy:Y"}'


def decode_fare(**row: Any) -> Any:
    return decode(envelope("u", fare_row(**row), lsn=1), key=FARE_KEY, topic=contract.FARES)


def test_money_keeps_every_decimal_it_was_sent() -> None:
    assert decode_fare(amount="412.0049").row.amount == "412.0049"


@pytest.mark.parametrize("amount", ["412.00001", "-12.00", "1e3", "NaN", " 412.00"])
def test_money_that_cannot_be_kept_exactly_or_is_negative_is_refused(amount: str) -> None:
    with pytest.raises(PoisonRecord, match="at `\\$.after.amount`"):
        decode_fare(amount=amount)


def test_money_sent_as_a_json_number_is_refused() -> None:
    with pytest.raises(PoisonRecord, match="Expected `str`, got `float`"):
        decode_fare(amount=412.0)


def test_a_timestamp_with_an_offset_is_read_as_the_same_instant() -> None:
    event = decode(envelope("u", flight_row(departure_at="2026-12-01T09:25:00+01:00"), lsn=1))
    assert event.row.departure_at == datetime(2026, 12, 1, 8, 25, tzinfo=UTC)
