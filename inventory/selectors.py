"""Reads of live inventory. Deleted rows never leave here (the default managers hide them)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Min, Q, QuerySet, Sum

from inventory.models import Fare, Flight, Hotel, HotelRate, ServedCode
from places.selectors import airport_zone, airports_in
from travelbot.streams.contract import CABINS


@dataclass(frozen=True)
class FlightOffer:
    flight: Flight
    fares: list[Fare]


@dataclass(frozen=True)
class HotelOffer:
    hotel: Hotel
    room_type: str
    nights: int
    total: Decimal
    currency: str
    rooms_available: int
    refundable: bool
    rates: list[HotelRate]


def flight_get(*, flight_id: str) -> Flight | None:
    return Flight.objects.filter(pk=flight_id).first()


def fare_get(*, fare_id: str) -> Fare | None:
    return Fare.objects.filter(pk=fare_id).first()


def hotel_get(*, hotel_id: str) -> Hotel | None:
    return Hotel.objects.filter(pk=hotel_id).first()


def hotel_rate_get(*, rate_id: str) -> HotelRate | None:
    return HotelRate.objects.filter(pk=rate_id).first()


def flights_search(
    *, origin: str, destination: str, day: date, cabin: str | None = None, passengers: int = 1
) -> list[FlightOffer]:
    """Bookable flights departing on `day` with seats for everyone, with their fares. The day
    is the origin's, as on a ticket (UTC when the origin's zone is unknown). A metropolitan
    code stands for its airports: LON to NYC is every flight from London to New York."""
    zone = airport_zone(code=origin) or UTC
    flights = (
        Flight.objects.filter(
            origin__in=airports_in(code=origin),
            destination__in=airports_in(code=destination),
            departure_at__gte=datetime.combine(day, time.min, tzinfo=zone),
            departure_at__lt=datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
        )
        .exclude(status="cancelled")
        .order_by("departure_at", "flight_id")
    )
    cabins = [cabin] if cabin else list(CABINS)
    matching = [f for f in flights if any(f.seats_for(c) >= passengers for c in cabins)]
    fares = Fare.objects.filter(flight_id__in=[f.flight_id for f in matching], cabin__in=cabins)
    fares_by_flight: dict[str, list[Fare]] = defaultdict(list)
    for fare in fares.order_by("amount"):
        if fare.flight_id:
            fares_by_flight[fare.flight_id].append(fare)
    return [FlightOffer(flight=f, fares=fares_by_flight[f.flight_id]) for f in matching]


def hotels_search(
    *, city: str, check_in: date, check_out: date, room_type: str | None = None, rooms: int = 1
) -> list[HotelOffer]:
    """Hotels in `city` with `rooms` rooms free on every night of the stay, cheapest first."""
    nights = (check_out - check_in).days
    rates = HotelRate.objects.filter(
        hotel_id__in=Hotel.objects.filter(city=city).values("hotel_id"),
        night__gte=check_in,
        night__lt=check_out,
        rooms_available__gte=rooms,
    )
    if room_type:
        rates = rates.filter(room_type=room_type)
    stays: list[Mapping[str, Any]] = list(
        rates.values("hotel_id", "room_type", "currency")
        .annotate(total=Sum("amount"), nights=Count("rate_id"), rooms=Min("rooms_available"))
        .filter(nights=nights)
        .order_by("total")
    )
    hotels = Hotel.objects.in_bulk([stay["hotel_id"] for stay in stays])
    nightly = _rates_by_stay(rates.filter(hotel_id__in=list(hotels)))
    return [
        _hotel_offer(stay, hotels[stay["hotel_id"]], nightly, nights)
        for stay in stays
        if stay["hotel_id"] in hotels
    ]


def _rates_by_stay(rates: QuerySet[HotelRate]) -> dict[tuple[str, str], list[HotelRate]]:
    grouped: dict[tuple[str, str], list[HotelRate]] = defaultdict(list)
    for rate in rates.order_by("night"):
        grouped[(str(rate.hotel_id), str(rate.room_type))].append(rate)
    return grouped


def _hotel_offer(
    stay: Mapping[str, Any],
    hotel: Hotel,
    nightly: dict[tuple[str, str], list[HotelRate]],
    nights: int,
) -> HotelOffer:
    rates = nightly[(hotel.hotel_id, str(stay["room_type"]))]
    return HotelOffer(
        hotel=hotel,
        room_type=str(stay["room_type"]),
        nights=nights,
        total=Decimal(str(stay["total"])),
        currency=str(stay["currency"]),
        rooms_available=int(str(stay["rooms"])),
        refundable=all(rate.refundable for rate in rates),
        rates=rates,
    )


def flights_matching(
    *,
    origins: tuple[str, ...] = (),
    destinations: tuple[str, ...] = (),
    numbers: tuple[str, ...] = (),
    start: datetime,
    end: datetime,
    limit: int = 5,
) -> list[FlightOffer]:
    """Flights of a route (any of its airports) or with one of the flight numbers, departing
    in [start, end), soonest first, with their fares: two queries, for a chat turn."""
    matching = Q(pk__in=[])
    if origins and destinations:  # a cancelled flight is no way to get there
        route = Q(origin__in=origins, destination__in=destinations)
        matching |= route & ~Q(status="cancelled")
    if numbers:  # but it is the answer to "is my flight on time?"
        matching |= Q(flight_number__in=numbers)
    if not (origins and destinations) and not numbers:
        return []
    flights = list(
        Flight.objects.filter(matching, departure_at__gte=start, departure_at__lt=end).order_by(
            "departure_at", "flight_id"
        )[:limit]
    )
    fares_by_flight: dict[str, list[Fare]] = defaultdict(list)
    fares = Fare.objects.filter(flight_id__in=[f.flight_id for f in flights]).order_by("amount")
    for fare in fares:
        if fare.flight_id:
            fares_by_flight[fare.flight_id].append(fare)
    return [FlightOffer(flight=f, fares=fares_by_flight[f.flight_id]) for f in flights]


@dataclass(frozen=True)
class Served:
    """What the feeds have published: the codes a traveller's words are recognised against."""

    airports: frozenset[str]
    hotel_cities: frozenset[str]
    carriers: frozenset[str]


def served_codes() -> Served:
    kinds: dict[str, set[str]] = defaultdict(set)
    for kind, code in ServedCode.objects.values_list("kind", "code"):
        kinds[kind].add(code)
    return Served(
        airports=frozenset(kinds[ServedCode.Kind.AIRPORT]),
        hotel_cities=frozenset(kinds[ServedCode.Kind.HOTEL_CITY]),
        carriers=frozenset(kinds[ServedCode.Kind.CARRIER]),
    )
