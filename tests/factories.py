"""Contract-shaped inventory rows and CDC envelopes for tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from travelbot.streams.contract import CdcTopic
from travelbot.streams.envelope import ChangeEvent, decode_change, make_change

BASE_MS = 1_796_000_000_000  # 2026-11-30, an arbitrary fixed event time


def flight_row(flight_id: str = "BA117-2026-12-01", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "flight_id": flight_id,
        "carrier": "BA",
        "flight_number": flight_id.split("-")[0],
        "origin": "LHR",
        "destination": "JFK",
        "departure_at": "2026-12-01T08:25:00Z",
        "arrival_at": "2026-12-01T16:40:00Z",
        "status": "scheduled",
        "gate": None,
        "seats_available": {"economy": 37, "premium": 4, "business": 2},
    }
    row.update(overrides)
    return row


def fare_row(fare_id: str = "BA117-2026-12-01:economy:Y", **overrides: Any) -> dict[str, Any]:
    flight_id, cabin, fare_class = fare_id.split(":")
    row: dict[str, Any] = {
        "fare_id": fare_id,
        "flight_id": flight_id,
        "cabin": cabin,
        "fare_class": fare_class,
        "amount": "412.00",
        "currency": "GBP",
        "refundable": False,
        "change_fee": "75.00",
        "baggage_kg": 23,
    }
    row.update(overrides)
    return row


def hotel_row(hotel_id: str = "H-NYC-0042", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "hotel_id": hotel_id,
        "name": "Hudson Park Hotel",
        "city": "NYC",
        "address": "120 W 57th St, New York",
        "stars": 4,
        "amenities": ["wifi", "gym"],
        "latitude": 40.765,
        "longitude": -73.979,
    }
    row.update(overrides)
    return row


def rate_row(rate_id: str = "H-NYC-0042:2026-12-01:double", **overrides: Any) -> dict[str, Any]:
    hotel_id, night, room_type = rate_id.rsplit(":", 2)
    row: dict[str, Any] = {
        "rate_id": rate_id,
        "hotel_id": hotel_id,
        "night": night,
        "room_type": room_type,
        "rooms_available": 5,
        "amount": "189.00",
        "currency": "USD",
        "refundable": True,
    }
    row.update(overrides)
    return row


def envelope(
    op: str,
    row: dict[str, Any] | None,
    *,
    lsn: int,
    table: str = "flights",
    ts_ms: int | None = None,
) -> dict[str, Any]:
    event_ms = ts_ms if ts_ms is not None else BASE_MS + lsn
    return make_change(
        op=op,
        after=None if op == "d" else row,
        before=row if op == "d" else None,
        system="gds",
        table=table,
        lsn=lsn,
        source_ts_ms=event_ms,
        ts_ms=event_ms + 5,
    )


def as_event(
    key_field: str, key: str, value: dict[str, Any] | None, topic: CdcTopic
) -> ChangeEvent | None:
    """Decode a contract-shaped key and value exactly as the runtime does."""
    assert topic.key_field == key_field
    raw_value = None if value is None else json.dumps(value).encode()
    return decode_change(json.dumps({key_field: key}).encode(), raw_value, topic=topic)


def as_change(key_field: str, key: str, value: dict[str, Any], topic: CdcTopic) -> ChangeEvent:
    """`as_event` for a record that is not a tombstone."""
    event = as_event(key_field, key, value, topic)
    assert event is not None
    return event


def customer_row(customer_id: str = "C-1001", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": customer_id,
        "email": "ana.silva@example.com",
        "phone": "+44 7700 900123",
        "first_name": "Ana",
        "last_name": "Silva",
        "home_airport": "LHR",
        "preferences": {"seat": "aisle", "meal": "vegetarian"},
        "marketing_opt_in": False,
    }
    row.update(overrides)
    return row


def member_row(member_id: str = "TB-100200300", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "member_id": member_id,
        "email": "ANA.SILVA@example.com",
        "phone": "+447700900123",
        "tier": "gold",
        "points": 48210,
    }
    row.update(overrides)
    return row


def booking_row(booking_ref: str = "X7K2PQ", **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "booking_ref": booking_ref,
        "email": "ana.silva@example.com",
        "phone": None,
        "customer_id": None,
        "member_id": "TB-100200300",
        "status": "confirmed",
        "items": [
            {
                "type": "flight",
                "flight_id": "BA117-2026-12-01",
                "cabin": "economy",
                "passengers": 2,
            },
            {
                "type": "hotel",
                "hotel_id": "H-NYC-0042",
                "check_in": "2026-12-01",
                "check_out": "2026-12-04",
                "room_type": "double",
            },
        ],
        "total": "1634.00",
        "currency": "GBP",
        "created_at": "2026-11-20T10:02:00Z",
    }
    row.update(overrides)
    return row


CUSTOMER_SOURCES = {
    "crm": ("customer_id", "crm", "customers"),
    "loyalty": ("member_id", "loyalty", "members"),
    "booking": ("booking_ref", "booking_engine", "reservations"),
}


def customer_event(
    source: str,
    row: dict[str, Any] | None,
    *,
    key: str,
    lsn: int,
    op: str = "u",
    ts_ms: int | None = None,
) -> ChangeEvent:
    """A decoded change of a customer source (crm, loyalty, booking), as the runtime makes."""
    from travelbot.streams import contract

    topic = {"crm": contract.CUSTOMERS, "loyalty": contract.MEMBERS, "booking": contract.BOOKINGS}
    key_field, system, table = CUSTOMER_SOURCES[source]
    after = None if op == "d" or row is None else {**row, key_field: key}
    value = make_change(
        op=op,
        after=after,
        before=None,
        system=system,
        table=table,
        lsn=lsn,
        source_ts_ms=BASE_MS + lsn if ts_ms is None else ts_ms,
        ts_ms=(BASE_MS + lsn if ts_ms is None else ts_ms) + 5,
    )
    event = as_event(key_field, key, value, topic[source])
    assert event is not None
    return event


def apply_rows(
    handle: Callable[[list[ChangeEvent]], object], topic: CdcTopic, rows: list[dict[str, Any]]
) -> None:
    """Rows as a third party's CDC records, decoded and applied as the runtime does."""
    table = topic.name.split(".")[-1]
    key = topic.key_field
    handle([as_change(key, r[key], envelope("c", r, lsn=1, table=table), topic) for r in rows])
