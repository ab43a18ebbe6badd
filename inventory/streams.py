"""Stream handlers of the four inventory topics: version-guarded, set-based upserts."""

from __future__ import annotations

import json
from typing import Any

from inventory import contract
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.registry import cdc_stream
from travelbot.streams.upsert import VersionedTable, versioned_upsert

FLIGHTS = VersionedTable(
    table="inventory_flight",
    key="flight_id",
    columns=(
        ("carrier", "text"),
        ("flight_number", "text"),
        ("origin", "text"),
        ("destination", "text"),
        ("departure_at", "timestamptz"),
        ("arrival_at", "timestamptz"),
        ("status", "text"),
        ("gate", "text"),
        ("seats_economy", "integer"),
        ("seats_premium", "integer"),
        ("seats_business", "integer"),
    ),
)
FARES = VersionedTable(
    table="inventory_fare",
    key="fare_id",
    columns=(
        ("flight_id", "text"),
        ("cabin", "text"),
        ("fare_class", "text"),
        ("amount", "numeric"),
        ("currency", "text"),
        ("refundable", "boolean"),
        ("change_fee", "numeric"),
        ("baggage_kg", "integer"),
    ),
)
HOTELS = VersionedTable(
    table="inventory_hotel",
    key="hotel_id",
    columns=(
        ("name", "text"),
        ("city", "text"),
        ("address", "text"),
        ("stars", "integer"),
        ("amenities", "jsonb"),
        ("latitude", "double precision"),
        ("longitude", "double precision"),
    ),
)
HOTEL_RATES = VersionedTable(
    table="inventory_hotelrate",
    key="rate_id",
    columns=(
        ("hotel_id", "text"),
        ("night", "date"),
        ("room_type", "text"),
        ("rooms_available", "integer"),
        ("amount", "numeric"),
        ("currency", "text"),
        ("refundable", "boolean"),
    ),
)


def _flight_values(row: dict[str, Any]) -> tuple[Any, ...]:
    seats = row["seats_available"]
    return (
        row["carrier"],
        row["flight_number"],
        row["origin"],
        row["destination"],
        row["departure_at"],
        row["arrival_at"],
        row["status"],
        row["gate"],
        seats["economy"],
        seats["premium"],
        seats["business"],
    )


def _fare_values(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["flight_id"],
        row["cabin"],
        row["fare_class"],
        row["amount"],
        row["currency"],
        row["refundable"],
        row["change_fee"],
        row["baggage_kg"],
    )


def _hotel_values(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["name"],
        row["city"],
        row["address"],
        row["stars"],
        json.dumps(row["amenities"]),
        row["latitude"],
        row["longitude"],
    )


def _hotel_rate_values(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["hotel_id"],
        row["night"],
        row["room_type"],
        row["rooms_available"],
        row["amount"],
        row["currency"],
        row["refundable"],
    )


def flights_apply(events: list[ChangeEvent]) -> int:
    return versioned_upsert(table=FLIGHTS, events=events, row_values=_flight_values)


def fares_apply(events: list[ChangeEvent]) -> int:
    return versioned_upsert(table=FARES, events=events, row_values=_fare_values)


def hotels_apply(events: list[ChangeEvent]) -> int:
    return versioned_upsert(table=HOTELS, events=events, row_values=_hotel_values)


def hotel_rates_apply(events: list[ChangeEvent]) -> int:
    return versioned_upsert(table=HOTEL_RATES, events=events, row_values=_hotel_rate_values)


STREAMS = [
    cdc_stream(
        topic="inventory.flights",
        key_field="flight_id",
        schema=contract.FLIGHT,
        handle=flights_apply,
    ),
    cdc_stream(
        topic="inventory.fares", key_field="fare_id", schema=contract.FARE, handle=fares_apply
    ),
    cdc_stream(
        topic="inventory.hotels", key_field="hotel_id", schema=contract.HOTEL, handle=hotels_apply
    ),
    cdc_stream(
        topic="inventory.hotel_rates",
        key_field="rate_id",
        schema=contract.HOTEL_RATE,
        handle=hotel_rates_apply,
    ),
]
