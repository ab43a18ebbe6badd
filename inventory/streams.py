"""Stream handlers of the four inventory topics: version-guarded, set-based upserts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import connection

from inventory.models import Fare, Flight, Hotel, HotelRate, ServedCode
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


# Each row's values by column name: every data column of its model.
def _flight_values(row: FlightRow) -> dict[str, Any]:
    seats = row.seats_available
    return {
        "carrier": row.carrier,
        "flight_number": row.flight_number,
        "origin": row.origin,
        "destination": row.destination,
        "departure_at": row.departure_at,
        "arrival_at": row.arrival_at,
        "status": row.status,
        "gate": row.gate,
        "seats_economy": seats.economy,
        "seats_premium": seats.premium,
        "seats_business": seats.business,
    }


def _fare_values(row: FareRow) -> dict[str, Any]:
    return {
        "flight_id": row.flight_id,
        "cabin": row.cabin,
        "fare_class": row.fare_class,
        "amount": _money(row.amount),
        "currency": row.currency,
        "refundable": row.refundable,
        "change_fee": _money(row.change_fee),
        "baggage_kg": row.baggage_kg,
    }


def _hotel_values(row: HotelRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "city": row.city,
        "address": row.address,
        "stars": row.stars,
        "amenities": row.amenities,  # a JSON array in the batch document: jsonb as it is
        "latitude": row.latitude,
        "longitude": row.longitude,
    }


def _hotel_rate_values(row: HotelRateRow) -> dict[str, Any]:
    return {
        "hotel_id": row.hotel_id,
        "night": row.night,
        "room_type": row.room_type,
        "rooms_available": row.rooms_available,
        "amount": _money(row.amount),
        "currency": row.currency,
        "refundable": row.refundable,
    }


def served_codes_record(pairs: set[tuple[str, str]]) -> None:
    """Record the airports, carriers and hotel cities a batch serves, in its transaction."""
    new = sorted(pair for pair in pairs if pair[1])
    if not new:
        return
    kinds, codes = zip(*new, strict=True)
    with connection.cursor() as cursor:
        # Sorted: two workers inserting the same codes take their locks in the same order.
        cursor.execute(
            f"INSERT INTO {ServedCode._meta.db_table} (kind, code) "
            "SELECT * FROM unnest(%s::text[], %s::text[]) ON CONFLICT DO NOTHING",
            [list(kinds), list(codes)],
        )


def flights_apply(events: list[ChangeEvent]) -> BatchResult:
    result = versioned_upsert(table=FLIGHTS, events=events, row_values=_flight_values)
    served: set[tuple[str, str]] = set()
    for event in events:
        if event.row is not None:
            row: FlightRow = event.row
            served |= {("airport", row.origin), ("airport", row.destination)}
            served.add(("carrier", row.carrier))
    served_codes_record(served)
    return result


def fares_apply(events: list[ChangeEvent]) -> BatchResult:
    return versioned_upsert(table=FARES, events=events, row_values=_fare_values)


def hotels_apply(events: list[ChangeEvent]) -> BatchResult:
    result = versioned_upsert(table=HOTELS, events=events, row_values=_hotel_values)
    served_codes_record({("hotel_city", e.row.city) for e in events if e.row is not None})
    return result


def hotel_rates_apply(events: list[ChangeEvent]) -> BatchResult:
    return versioned_upsert(table=HOTEL_RATES, events=events, row_values=_hotel_rate_values)


STREAMS = [
    cdc_stream(topic=contract.FLIGHTS, handle=flights_apply),
    cdc_stream(topic=contract.FARES, handle=fares_apply),
    cdc_stream(topic=contract.HOTELS, handle=hotels_apply),
    cdc_stream(topic=contract.HOTEL_RATES, handle=hotel_rates_apply),
]
