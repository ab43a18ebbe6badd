"""A deterministic travel world (routes, flights, fares, hotels, rates) from a seed.

The world is the simulated state of the two source systems: the GDS (flights, fares) and the
hotel channel manager (hotels, hotel rates). Rows are plain dicts shaped exactly as the stream
contract's `after` rows, so they can be published without any conversion.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from simulator.geography import (
    AIRPORTS_BY_CODE,
    CARRIER_CURRENCY,
    CITIES_BY_CODE,
    USD_RATE,
    Airport,
    City,
    Places,
    places,
)

Row = dict[str, Any]

CABINS = ("economy", "premium", "business")
ROOM_TYPES = ("single", "double", "suite")
BOARDING_LEAD = timedelta(minutes=40)
# Gates are announced a few hours before departure; further out they are unknown (null).
GATE_LEAD = timedelta(hours=3)
# Flight numbers have at most four digits; a carrier's numbering wraps to this floor.
MAX_FLIGHT_NUMBER = 9999
FLIGHT_NUMBER_FLOOR = 100
MAX_NONSTOP_KM = 14_500

HOTEL_BRANDS = (
    "Meridian House",
    "Alder & Finch",
    "Northlight",
    "Castell",
    "Harbourline",
    "Kestrel",
    "Orion Grand",
    "Linden",
    "Sable",
    "Wayfarer",
)
HOTEL_NAME_PATTERNS = (
    "The {area} Hotel",
    "{area} Park Hotel",
    "Hotel {area}",
    "{area} Suites",
    "{brand} {area}",
    "{brand} {city}",
    "{area} Grand",
    "{area} Residences",
)
AMENITIES = (
    "gym",
    "breakfast",
    "pool",
    "spa",
    "parking",
    "restaurant",
    "bar",
    "airport-shuttle",
    "pet-friendly",
    "business-centre",
    "laundry",
    "concierge",
)
STAR_BASE_USD = {2: 70.0, 3: 110.0, 4: 180.0, 5: 320.0}
ROOM_FACTOR = {"single": 0.8, "double": 1.0, "suite": 2.4}
ROOM_STOCK = {"single": 12, "double": 30, "suite": 4}
FARE_CLASSES = {
    "economy": ("Y", "B", "M", "H", "K", "L", "Q", "V"),
    "premium": ("W", "E", "T"),
    "business": ("J", "C", "D", "I"),
}
CABIN_FACTOR = {"economy": 1.0, "premium": 1.9, "business": 4.3}
REFUNDABLE_SHARE = {"economy": 0.1, "premium": 0.3, "business": 0.6}
CHANGE_FEE_USD = {"economy": (75.0, 100.0, None), "premium": (50.0, 75.0), "business": (0.0, 50.0)}
BAGGAGE_KG = {"economy": (0, 23, 23), "premium": (23, 32), "business": (32, 40)}


@dataclass(frozen=True, slots=True)
class WorldSpec:
    """Size of the world; the defaults give 40 airports, 10 carriers, about 36k flights, 108k
    fares, 375 hotels in 25 cities and 67k rates."""

    days: int = 60
    routes: int = 300
    cities: int = 25
    hotels_per_city: tuple[int, int] = (10, 20)
    airports: int = 40
    carriers: int = 10

    def scaled(self, factor: float) -> WorldSpec:
        """The world `factor` times as large; days are unchanged.

        Growing adds airports, carriers, routes and hotel cities, each city with as many
        hotels as before; shrinking keeps the places and thins the routes, cities and hotels
        per city, keeping at least one of each.
        """

        def times(count: int) -> int:
            return max(1, round(count * factor))

        if factor > 1:
            return replace(
                self,
                routes=times(self.routes),
                cities=times(self.cities),
                airports=times(self.airports),
                carriers=times(self.carriers),
            )
        low, high = self.hotels_per_city
        return replace(
            self,
            routes=times(self.routes),
            cities=times(self.cities),
            hotels_per_city=(times(low), times(high)),
        )

    @property
    def places(self) -> Places:
        return places(airports=self.airports, carriers=self.carriers, cities=self.cities)


DEFAULT_SPEC = WorldSpec()


@dataclass(frozen=True, slots=True)
class Service:
    flight_number: str
    minute_of_day_utc: int


@dataclass(frozen=True, slots=True)
class Route:
    carrier: str
    origin: Airport
    destination: Airport
    distance_km: float
    duration_min: int
    services: tuple[Service, ...]


class KeyPool:
    """Ids in a list for O(1) random choice, with O(1) removal (swap with the last)."""

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids = list(ids)
        self._at = {key: index for index, key in enumerate(self._ids)}

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, key: object) -> bool:
        return key in self._at

    def add(self, key: str) -> None:
        if key not in self._at:
            self._at[key] = len(self._ids)
            self._ids.append(key)

    def remove(self, key: str) -> None:
        index = self._at.pop(key)
        last = self._ids.pop()
        if last != key:
            self._ids[index] = last
            self._at[last] = index

    def choice(self, rng: random.Random) -> str | None:
        return self._ids[rng.randrange(len(self._ids))] if self._ids else None


def wall_clock_us() -> int:
    return time.time_ns() // 1000


class LsnClock:
    """Log positions per table: wall-clock microseconds, bumped to stay strictly increasing.

    Wall-clock based so a restarted simulator's events outrank everything an earlier run sent.
    """

    def __init__(self, now_us: Callable[[], int] = wall_clock_us) -> None:
        self._now_us = now_us
        self._last: dict[str, int] = {}

    def next(self, table: str) -> int:
        lsn = max(self._last.get(table, 0) + 1, self._now_us())
        self._last[table] = lsn
        return lsn


TABLES = ("flights", "fares", "hotels", "hotel_rates")


@dataclass
class World:
    """The source systems' tables plus the indexes the change generator needs."""

    start: date
    days: int
    places: Places
    routes: list[Route]
    rows: dict[str, dict[str, Row]] = field(default_factory=lambda: {t: {} for t in TABLES})
    pools: dict[str, KeyPool] = field(default_factory=lambda: {t: KeyPool() for t in TABLES})
    fares_by_flight: dict[str, list[str]] = field(default_factory=dict)
    route_of_flight: dict[str, Route] = field(default_factory=dict)
    # (departure_at, flight_id), sorted: finds flights near now without scanning them all.
    departures: list[tuple[str, str]] = field(default_factory=list)
    flight_numbers: dict[str, int] = field(default_factory=dict)
    # Hotel ids by city code, in id order: bookings pick a stay without scanning every hotel.
    hotels_by_city: dict[str, list[str]] = field(default_factory=dict)
    # The departure each flight was first scheduled for: delays are capped against it.
    first_departure: dict[str, str] = field(default_factory=dict)
    # Last lsn published per table and id: lets a stale replay resend the exact older event.
    versions: dict[str, dict[str, int]] = field(default_factory=lambda: {t: {} for t in TABLES})
    lsn: LsnClock = field(default_factory=LsnClock)

    def put(self, table: str, key: str, row: Row) -> None:
        self.rows[table][key] = row
        self.pools[table].add(key)

    def drop(self, table: str, key: str) -> Row:
        self.pools[table].remove(key)
        return self.rows[table].pop(key)

    def size(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """A contract timestamp (ISO 8601 UTC with a Z suffix) as an aware datetime."""
    return datetime.fromisoformat(value.removesuffix("Z") + "+00:00")


def money(amount: float) -> str:
    return f"{max(amount, 1.0):.2f}"


def great_circle_km(a: Airport, b: Airport) -> float:
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def flight_duration_min(distance_km: float) -> int:
    """Cruise at ~820 km/h plus half an hour of taxi, climb and approach, to 5 minutes."""
    return int(round((distance_km / 820 * 60 + 30) / 5) * 5)


def generate_world(
    spec: WorldSpec = DEFAULT_SPEC, *, seed: int = 7, now: datetime | None = None
) -> World:
    """The same (spec, seed, now) always gives the same world; `now` sets the start and statuses."""
    now = now or datetime.now(UTC)
    rng = random.Random(seed)
    world = World(start=now.date(), days=spec.days, places=spec.places, routes=[])
    world.routes = _routes(world.places, spec.routes, rng, world.flight_numbers)
    for route in world.routes:
        for day in range(spec.days):
            for service in route.services:
                add_flight(
                    world,
                    route,
                    service.flight_number,
                    departure_on(world.start, day, service),
                    now,
                    rng,
                )
    flights = world.rows["flights"]
    world.departures = sorted((row["departure_at"], key) for key, row in flights.items())
    for city in world.places.cities:
        _add_hotels(world, city, rng.randint(*spec.hotels_per_city), rng)
    return world


def _route_candidates(places: Places) -> list[tuple[str, str, str]]:
    """(carrier, origin, destination) with one end at a hub of the carrier, both directions."""
    pairs: set[tuple[str, str, str]] = set()
    for carrier, hubs in places.carrier_hubs.items():
        for hub in hubs:
            for other in places.airports:
                if _plausible_leg(AIRPORTS_BY_CODE[hub], other):
                    low, high = sorted((hub, other.code))
                    pairs.add((carrier, low, high))
    return sorted(pairs)


def _plausible_leg(a: Airport, b: Airport) -> bool:
    """Not within one metro, not a hop a train beats, not beyond a long-haul jet's range."""
    return a.metro != b.metro and 250 <= great_circle_km(a, b) <= MAX_NONSTOP_KM


def _routes(places: Places, count: int, rng: random.Random, numbers: dict[str, int]) -> list[Route]:
    # Carriers fly both directions of a pair, so pick pairs and emit both legs.
    candidates = _route_candidates(places)
    pairs = rng.sample(candidates, k=min((count + 1) // 2, len(candidates)))
    legs = [(carrier, a, b) for carrier, x, y in pairs for a, b in ((x, y), (y, x))]
    return [_route(carrier, a, b, rng, numbers) for carrier, a, b in legs[:count]]


def _route(
    carrier: str, origin: str, destination: str, rng: random.Random, numbers: dict[str, int]
) -> Route:
    a, b = AIRPORTS_BY_CODE[origin], AIRPORTS_BY_CODE[destination]
    distance = great_circle_km(a, b)
    services = tuple(make_service(carrier, a, rng, numbers) for _ in range(rng.randint(1, 3)))
    return Route(carrier, a, b, distance, flight_duration_min(distance), services)


def next_flight_number(carrier: str, rng: random.Random, numbers: dict[str, int]) -> str:
    """The carrier's next number, wrapping to stay within four digits. A wrapped number may
    already be flown; the caller skips a flight whose id is taken."""
    number = numbers.get(carrier, rng.randint(1, 99)) + rng.randint(1, 6)
    if number > MAX_FLIGHT_NUMBER:
        number = FLIGHT_NUMBER_FLOOR + number % 100
    numbers[carrier] = number
    return f"{carrier}{number}"


def make_service(
    carrier: str, origin: Airport, rng: random.Random, numbers: dict[str, int]
) -> Service:
    local_minute = rng.randint(6 * 12, 22 * 12) * 5  # 06:00 to 22:00 local, on the 5 minutes
    utc_minute = int(local_minute - origin.utc_offset_h * 60) % (24 * 60)
    return Service(next_flight_number(carrier, rng, numbers), utc_minute)


def departure_on(start: date, day: int, service: Service) -> datetime:
    midnight = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return midnight + timedelta(days=day, minutes=service.minute_of_day_utc)


def flight_status(departure: datetime, arrival: datetime, now: datetime) -> str:
    if now >= arrival:
        return "arrived"
    if now >= departure:
        return "departed"
    return "boarding" if now >= departure - BOARDING_LEAD else "scheduled"


def random_gate(rng: random.Random) -> str:
    return f"{rng.choice('ABCDEFG')}{rng.randint(1, 59)}"


def add_flight(
    world: World, route: Route, number: str, departure: datetime, now: datetime, rng: random.Random
) -> list[Row]:
    """Add a flight and its three fares; returns the rows, flight first. The caller indexes
    the departure (a bulk sort at generation, an insort later)."""
    flight = _flight_row(route, number, departure, now, rng)
    fares = _fare_rows(flight["flight_id"], route, (departure - now).days, rng)
    world.put("flights", flight["flight_id"], flight)
    world.first_departure[flight["flight_id"]] = flight["departure_at"]
    world.route_of_flight[flight["flight_id"]] = route
    world.fares_by_flight[flight["flight_id"]] = [fare["fare_id"] for fare in fares]
    for fare in fares:
        world.put("fares", fare["fare_id"], fare)
    return [flight, *fares]


def _flight_row(
    route: Route, number: str, departure: datetime, now: datetime, rng: random.Random
) -> Row:
    arrival = departure + timedelta(minutes=route.duration_min)
    near = now >= departure - GATE_LEAD
    return {
        "flight_id": f"{number}-{departure:%Y-%m-%d}",
        "carrier": route.carrier,
        "flight_number": number,
        "origin": route.origin.code,
        "destination": route.destination.code,
        "departure_at": iso(departure),
        "arrival_at": iso(arrival),
        "status": flight_status(departure, arrival, now),
        "gate": random_gate(rng) if near else None,
        "seats_available": _seats(route.distance_km, (departure - now).days, rng),
    }


def _seats(distance_km: float, days_out: int, rng: random.Random) -> dict[str, int]:
    capacity = (
        {"economy": 220, "premium": 28, "business": 40}
        if distance_km > 4000
        else {"economy": 150, "premium": 12, "business": 16}
    )
    # Flights fill up as departure nears.
    load = min(1.0, rng.uniform(0.15, 0.55) + 0.45 * max(0.0, 1 - max(days_out, 0) / 45))
    return {
        cabin: int(seats * (1 - load) * rng.uniform(0.7, 1.0)) for cabin, seats in capacity.items()
    }


def fare_base_usd(distance_km: float, cabin: str, days_out: int) -> float:
    """The fare a cabin sells at on average; it rises over the last three weeks before departure."""
    late_booking = 1 + 0.6 * max(0.0, 1 - max(days_out, 0) / 21)
    return (60 + 0.085 * distance_km) * CABIN_FACTOR[cabin] * late_booking


def fare_amount_usd(distance_km: float, cabin: str, days_out: int, rng: random.Random) -> float:
    return fare_base_usd(distance_km, cabin, days_out) * rng.uniform(0.85, 1.2)


def _fare_rows(flight_id: str, route: Route, days_out: int, rng: random.Random) -> list[Row]:
    currency = CARRIER_CURRENCY[route.carrier]
    return [
        _fare_row(flight_id, cabin, currency, route.distance_km, days_out, rng) for cabin in CABINS
    ]


def _fare_row(
    flight_id: str, cabin: str, currency: str, distance_km: float, days_out: int, rng: random.Random
) -> Row:
    fx = USD_RATE[currency]
    fare_class = rng.choice(FARE_CLASSES[cabin])
    refundable = rng.random() < REFUNDABLE_SHARE[cabin]
    fee = 0.0 if refundable else rng.choice(CHANGE_FEE_USD[cabin])
    return {
        "fare_id": f"{flight_id}:{cabin}:{fare_class}",
        "flight_id": flight_id,
        "cabin": cabin,
        "fare_class": fare_class,
        "amount": money(fare_amount_usd(distance_km, cabin, days_out, rng) * fx),
        "currency": currency,
        "refundable": refundable,
        "change_fee": None if fee is None else f"{round(fee * fx / 5) * 5:.2f}",
        "baggage_kg": rng.choice(BAGGAGE_KG[cabin]),
    }


def _add_hotels(world: World, city: City, count: int, rng: random.Random) -> None:
    names: set[str] = set()
    for number in range(1, count + 1):
        hotel = _hotel_row(city, number, names, rng)
        world.put("hotels", hotel["hotel_id"], hotel)
        world.hotels_by_city.setdefault(city.code, []).append(hotel["hotel_id"])
        for day in range(world.days):
            for room_type in ROOM_TYPES:
                rate = rate_row(hotel, world.start + timedelta(days=day), room_type, rng)
                world.put("hotel_rates", rate["rate_id"], rate)


def _hotel_name(city: City, taken: set[str], rng: random.Random) -> str:
    name = ""
    for _ in range(10):  # a few tries for a name not yet used in the city
        pattern = rng.choice(HOTEL_NAME_PATTERNS)
        name = pattern.format(
            area=rng.choice(city.areas), brand=rng.choice(HOTEL_BRANDS), city=city.name
        )
        if name not in taken:
            break
    taken.add(name)
    return name


def _hotel_row(city: City, number: int, taken: set[str], rng: random.Random) -> Row:
    stars = rng.choices((2, 3, 4, 5), weights=(1, 3, 4, 2))[0]
    extras = rng.sample(AMENITIES, k=min(len(AMENITIES), stars + rng.randint(0, 3)))
    return {
        "hotel_id": f"H-{city.code}-{number:04d}",
        "name": _hotel_name(city, taken, rng),
        "city": city.code,
        "address": f"{rng.randint(1, 250)} {rng.choice(city.streets)}, {city.name}",
        "stars": stars,
        "amenities": ["wifi", *sorted(extras)],
        "latitude": round(city.lat + rng.gauss(0, 0.025), 5),
        "longitude": round(city.lon + rng.gauss(0, 0.035), 5),
    }


def rate_base(hotel: Row, night: date, room_type: str) -> float:
    """The average price of a room of the hotel for the night, in the local currency."""
    city = CITIES_BY_CODE[hotel["city"]]
    weekend = 1.15 if night.weekday() in (4, 5) else 1.0
    usd = STAR_BASE_USD[hotel["stars"]] * city.price_factor * ROOM_FACTOR[room_type] * weekend
    return usd * USD_RATE[city.currency]


def rate_row(hotel: Row, night: date, room_type: str, rng: random.Random) -> Row:
    city = CITIES_BY_CODE[hotel["city"]]
    return {
        "rate_id": f"{hotel['hotel_id']}:{night.isoformat()}:{room_type}",
        "hotel_id": hotel["hotel_id"],
        "night": night.isoformat(),
        "room_type": room_type,
        "rooms_available": rng.randint(0, ROOM_STOCK[room_type]),
        "amount": money(rate_base(hotel, night, room_type) * rng.uniform(0.9, 1.15)),
        "currency": city.currency,
        "refundable": rng.random() < 0.7,
    }
