"""Stream handlers of the four inventory topics: version-guarded, set-based upserts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from inventory.models import Fare, Flight, Hotel, HotelRate
from travelbot.streams import contract
from travelbot.streams.contract import FareRow, FlightRow, HotelRateRow, HotelRow
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.registry import BatchResult, cdc_stream
from travelbot.streams.upsert import VersionedTable, versioned_upsert

FLIGHTS = VersionedTable.for_model(Flight)
FARES = VersionedTable.for_model(Fare)
HOTELS = VersionedTable.for_model(Hotel)
HOTEL_RATES = VersionedTable.for_model(HotelRate)


def _money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


# Each tuple follows its model's field order (the order VersionedTable.for_model reads).
def _flight_values(row: FlightRow) -> tuple[Any, ...]:
    seats = row.seats_available
    return (
        row.carrier,
        row.flight_number,
        row.origin,
        row.destination,
        row.departure_at,
        row.arrival_at,
        row.status,
        row.gate,
        seats.economy,
        seats.premium,
        seats.business,
    )


def _fare_values(row: FareRow) -> tuple[Any, ...]:
    return (
        row.flight_id,
        row.cabin,
        row.fare_class,
        _money(row.amount),
        row.currency,
        row.refundable,
        _money(row.change_fee),
        row.baggage_kg,
    )


def _hotel_values(row: HotelRow) -> tuple[Any, ...]:
    return (
        row.name,
        row.city,
        row.address,
        row.stars,
        row.amenities,  # a JSON array in the batch document: jsonb as it is
        row.latitude,
        row.longitude,
    )


def _hotel_rate_values(row: HotelRateRow) -> tuple[Any, ...]:
    return (
        row.hotel_id,
        row.night,
        row.room_type,
        row.rooms_available,
        _money(row.amount),
        row.currency,
        row.refundable,
    )


def flights_apply(events: list[ChangeEvent]) -> BatchResult:
    return versioned_upsert(table=FLIGHTS, events=events, row_values=_flight_values)


def fares_apply(events: list[ChangeEvent]) -> BatchResult:
    return versioned_upsert(table=FARES, events=events, row_values=_fare_values)


def hotels_apply(events: list[ChangeEvent]) -> BatchResult:
    return versioned_upsert(table=HOTELS, events=events, row_values=_hotel_values)


def hotel_rates_apply(events: list[ChangeEvent]) -> BatchResult:
    return versioned_upsert(table=HOTEL_RATES, events=events, row_values=_hotel_rate_values)


STREAMS = [
    cdc_stream(topic=contract.FLIGHTS, handle=flights_apply),
    cdc_stream(topic=contract.FARES, handle=fares_apply),
    cdc_stream(topic=contract.HOTELS, handle=hotels_apply),
    cdc_stream(topic=contract.HOTEL_RATES, handle=hotel_rates_apply),
]
