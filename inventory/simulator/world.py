"""A deterministic travel world (airports, routes, flights, fares, hotels, rates) from a seed.

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


@dataclass(frozen=True, slots=True)
class Airport:
    code: str
    metro: str  # IATA metropolitan code where one exists, else the airport code
    city: str
    lat: float
    lon: float
    utc_offset_h: float  # standard time; only used to put departures at plausible local hours


def _airport(code: str, metro: str, city: str, lat: float, lon: float, utc: float) -> Airport:
    return Airport(code, metro, city, lat, lon, utc)


AIRPORTS: tuple[Airport, ...] = (
    _airport("LHR", "LON", "London", 51.470, -0.454, 0),
    _airport("LGW", "LON", "London", 51.153, -0.182, 0),
    _airport("CDG", "PAR", "Paris", 49.010, 2.548, 1),
    _airport("ORY", "PAR", "Paris", 48.723, 2.379, 1),
    _airport("FRA", "FRA", "Frankfurt", 50.037, 8.562, 1),
    _airport("MUC", "MUC", "Munich", 48.354, 11.786, 1),
    _airport("AMS", "AMS", "Amsterdam", 52.310, 4.768, 1),
    _airport("MAD", "MAD", "Madrid", 40.472, -3.561, 1),
    _airport("BCN", "BCN", "Barcelona", 41.297, 2.078, 1),
    _airport("FCO", "ROM", "Rome", 41.800, 12.239, 1),
    _airport("DUB", "DUB", "Dublin", 53.421, -6.270, 0),
    _airport("ZRH", "ZRH", "Zurich", 47.458, 8.555, 1),
    _airport("VIE", "VIE", "Vienna", 48.110, 16.570, 1),
    _airport("CPH", "CPH", "Copenhagen", 55.618, 12.656, 1),
    _airport("LIS", "LIS", "Lisbon", 38.774, -9.134, 0),
    _airport("ATH", "ATH", "Athens", 37.936, 23.947, 2),
    _airport("IST", "IST", "Istanbul", 41.275, 28.752, 3),
    _airport("EDI", "EDI", "Edinburgh", 55.950, -3.372, 0),
    _airport("MAN", "MAN", "Manchester", 53.354, -2.275, 0),
    _airport("JFK", "NYC", "New York", 40.641, -73.778, -5),
    _airport("EWR", "NYC", "New York", 40.690, -74.174, -5),
    _airport("BOS", "BOS", "Boston", 42.366, -71.010, -5),
    _airport("ATL", "ATL", "Atlanta", 33.640, -84.427, -5),
    _airport("MIA", "MIA", "Miami", 25.796, -80.287, -5),
    _airport("DFW", "DFW", "Dallas", 32.900, -97.040, -6),
    _airport("DEN", "DEN", "Denver", 39.856, -104.674, -7),
    _airport("LAX", "LAX", "Los Angeles", 33.942, -118.408, -8),
    _airport("SFO", "SFO", "San Francisco", 37.621, -122.379, -8),
    _airport("SEA", "SEA", "Seattle", 47.450, -122.309, -8),
    _airport("LAS", "LAS", "Las Vegas", 36.084, -115.154, -8),
    _airport("YVR", "YVR", "Vancouver", 49.195, -123.184, -8),
    _airport("MEX", "MEX", "Mexico City", 19.436, -99.072, -6),
    _airport("DXB", "DXB", "Dubai", 25.253, 55.364, 4),
    _airport("DOH", "DOH", "Doha", 25.273, 51.608, 3),
    _airport("SIN", "SIN", "Singapore", 1.364, 103.991, 8),
    _airport("HKG", "HKG", "Hong Kong", 22.308, 113.918, 8),
    _airport("BKK", "BKK", "Bangkok", 13.690, 100.750, 7),
    _airport("DEL", "DEL", "Delhi", 28.556, 77.100, 5.5),
    _airport("BOM", "BOM", "Mumbai", 19.090, 72.866, 5.5),
    _airport("SYD", "SYD", "Sydney", -33.940, 151.175, 10),
)
AIRPORTS_BY_CODE = {airport.code: airport for airport in AIRPORTS}

CARRIER_HUBS: dict[str, tuple[str, ...]] = {
    "BA": ("LHR", "LGW"),
    "AF": ("CDG", "ORY"),
    "LH": ("FRA", "MUC"),
    "UA": ("EWR", "SFO", "DEN"),
    "DL": ("ATL", "JFK", "LAX", "SEA"),
    "AA": ("DFW", "MIA", "JFK", "LAX"),
    "EK": ("DXB",),
    "IB": ("MAD",),
    "KL": ("AMS",),
    "AZ": ("FCO",),
}
CARRIER_CURRENCY = {
    "BA": "GBP",
    "AF": "EUR",
    "LH": "EUR",
    "IB": "EUR",
    "KL": "EUR",
    "AZ": "EUR",
    "UA": "USD",
    "DL": "USD",
    "AA": "USD",
    "EK": "AED",
}
# Rough units of each currency per US dollar: prices are modelled in USD, published locally.
USD_RATE = {
    "USD": 1.0,
    "GBP": 0.79,
    "EUR": 0.92,
    "AED": 3.67,
    "CHF": 0.88,
    "DKK": 6.87,
    "TRY": 34.0,
    "SGD": 1.35,
    "HKD": 7.8,
    "THB": 35.5,
    "AUD": 1.53,
}


@dataclass(frozen=True, slots=True)
class City:
    code: str
    name: str
    currency: str
    lat: float
    lon: float
    price_factor: float
    streets: tuple[str, ...]
    areas: tuple[str, ...]


# Per city: code|name|currency|latitude|longitude|price factor, then streets, then areas.
_CITY_TABLE = """
LON|London|GBP|51.5074|-0.1278|1.35
    Piccadilly|Strand|Kensington High St|Baker St|Southwark St
    Mayfair|Covent Garden|Kensington|Marylebone|Bankside
NYC|New York|USD|40.758|-73.9855|1.45
    W 57th St|Lexington Ave|Broadway|Park Ave S|Greenwich St
    Midtown|Gramercy|Tribeca|Chelsea|Hudson Yards
PAR|Paris|EUR|48.8566|2.3522|1.3
    Rue de Rivoli|Boulevard Saint-Germain|Avenue de l'Opéra|Rue Saint-Honoré|Rue Oberkampf
    Marais|Saint-Germain|Opéra|Montmartre|Bastille
AMS|Amsterdam|EUR|52.3676|4.9041|1.2
    Damrak|Prinsengracht|Herengracht|Vijzelstraat|Overtoom
    Jordaan|De Pijp|Canal Ring|Oud-Zuid|Oosterdok
MAD|Madrid|EUR|40.4168|-3.7038|0.95
    Gran Vía|Calle de Alcalá|Paseo del Prado|Calle Mayor|Calle de Serrano
    Sol|Salamanca|Chamberí|Malasaña|Retiro
BCN|Barcelona|EUR|41.3874|2.1686|1.05
    Passeig de Gràcia|La Rambla|Carrer d'Aragó|Via Laietana|Avinguda Diagonal
    Eixample|Gràcia|Born|Barceloneta|Gothic Quarter
ROM|Rome|EUR|41.9028|12.4964|1.1
    Via del Corso|Via Veneto|Via Nazionale|Via Cavour|Viale di Trastevere
    Trastevere|Monti|Prati|Spagna|Testaccio
DUB|Dublin|EUR|53.3498|-6.2603|1.1
    O'Connell St|Grafton St|Dawson St|Baggot St|Camden St
    Temple Bar|Ballsbridge|Docklands|Portobello|Smithfield
ZRH|Zurich|CHF|47.3769|8.5417|1.4
    Bahnhofstrasse|Limmatquai|Niederdorfstrasse|Seefeldstrasse|Talstrasse
    Altstadt|Seefeld|Enge|Kreis 5|Oerlikon
VIE|Vienna|EUR|48.2082|16.3738|0.95
    Kärntner Straße|Schubertring|Mariahilfer Straße|Wiedner Hauptstraße|Praterstraße
    Innere Stadt|Leopoldstadt|Neubau|Wieden|Josefstadt
CPH|Copenhagen|DKK|55.6761|12.5683|1.2
    Strøget|Vesterbrogade|Nyhavn|Bredgade|Nørrebrogade
    Nyhavn|Vesterbro|Nørrebro|Christianshavn|Østerbro
LIS|Lisbon|EUR|38.7223|-9.1393|0.85
    Avenida da Liberdade|Rua Augusta|Rua Garrett|Rua do Alecrim|Avenida Almirante Reis
    Chiado|Alfama|Baixa|Príncipe Real|Belém
ATH|Athens|EUR|37.9838|23.7275|0.8
    Ermou St|Vasilissis Sofias Ave|Panepistimiou St|Adrianou St|Syngrou Ave
    Plaka|Kolonaki|Syntagma|Monastiraki|Koukaki
IST|Istanbul|TRY|41.0082|28.9784|0.6
    İstiklal Caddesi|Divanyolu Caddesi|Cumhuriyet Caddesi|Bağdat Caddesi|Kennedy Caddesi
    Beyoğlu|Sultanahmet|Nişantaşı|Karaköy|Kadıköy
EDI|Edinburgh|GBP|55.9533|-3.1883|1.0
    Princes St|George St|Royal Mile|Queen St|Leith Walk
    Old Town|New Town|Leith|Stockbridge|West End
BOS|Boston|USD|42.3601|-71.0589|1.2
    Boylston St|Newbury St|Tremont St|Atlantic Ave|Cambridge St
    Back Bay|Beacon Hill|Seaport|North End|Fenway
MIA|Miami|USD|25.7617|-80.1918|1.1
    Collins Ave|Ocean Dr|Brickell Ave|Biscayne Blvd|Lincoln Rd
    South Beach|Brickell|Wynwood|Coconut Grove|Downtown
LAX|Los Angeles|USD|34.0522|-118.2437|1.15
    Sunset Blvd|Wilshire Blvd|Hollywood Blvd|Santa Monica Blvd|Figueroa St
    Hollywood|Downtown|Santa Monica|Beverly Hills|Venice
SFO|San Francisco|USD|37.7749|-122.4194|1.3
    Market St|Powell St|Van Ness Ave|The Embarcadero|Lombard St
    Union Square|SoMa|Nob Hill|Fisherman's Wharf|Mission
LAS|Las Vegas|USD|36.1147|-115.1728|0.9
    Las Vegas Blvd S|Fremont St|Paradise Rd|Flamingo Rd|Tropicana Ave
    The Strip|Downtown|Paradise|Summerlin|Henderson
DXB|Dubai|AED|25.2048|55.2708|1.1
    Sheikh Zayed Rd|Al Wasl Rd|Jumeirah Beach Rd|Al Maktoum Rd|Financial Centre Rd
    Downtown|Marina|Jumeirah|Deira|DIFC
SIN|Singapore|SGD|1.2903|103.852|1.2
    Orchard Rd|Bras Basah Rd|Beach Rd|Raffles Ave|Havelock Rd
    Marina Bay|Orchard|Clarke Quay|Bugis|Sentosa
HKG|Hong Kong|HKD|22.2793|114.1628|1.15
    Nathan Rd|Queen's Rd Central|Hennessy Rd|Canton Rd|Des Voeux Rd
    Central|Tsim Sha Tsui|Wan Chai|Causeway Bay|Mong Kok
BKK|Bangkok|THB|13.7563|100.5018|0.55
    Sukhumvit Rd|Silom Rd|Rama I Rd|Ploenchit Rd|Charoen Krung Rd
    Sukhumvit|Silom|Riverside|Siam|Sathorn
SYD|Sydney|AUD|-33.8688|151.2093|1.15
    George St|Pitt St|Macquarie St|Oxford St|Campbell Pde
    The Rocks|Darling Harbour|Surry Hills|Bondi|Circular Quay
"""


def _parse_cities(table: str) -> tuple[City, ...]:
    lines = [line.strip() for line in table.strip().splitlines()]
    cities = []
    for head, streets, areas in zip(lines[0::3], lines[1::3], lines[2::3], strict=True):
        code, name, currency, lat, lon, price = head.split("|")
        cities.append(
            City(
                code,
                name,
                currency,
                float(lat),
                float(lon),
                float(price),
                tuple(streets.split("|")),
                tuple(areas.split("|")),
            )
        )
    return tuple(cities)


CITIES = _parse_cities(_CITY_TABLE)
CITIES_BY_CODE = {city.code: city for city in CITIES}

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
    """Size of the world; the defaults give about 36k flights, 108k fares, 375 hotels, 67k rates."""

    days: int = 60
    routes: int = 300
    cities: int = 25
    hotels_per_city: tuple[int, int] = (10, 20)

    def scaled(self, fraction: float) -> WorldSpec:
        """Shrink (or grow) the entity counts, keeping at least one of each; days are unchanged."""

        def shrink(count: int) -> int:
            return max(1, round(count * fraction))

        low, high = self.hotels_per_city
        return replace(
            self,
            routes=shrink(self.routes),
            cities=min(len(CITIES), shrink(self.cities)),
            hotels_per_city=(shrink(low), shrink(high)),
        )


DEFAULT_SPEC = WorldSpec()


def world_spec(
    *,
    scale: float = 1.0,
    days: int | None = None,
    routes: int | None = None,
    cities: int | None = None,
    hotels_per_city: tuple[int, int] | None = None,
) -> WorldSpec:
    """The default spec scaled by `scale`, then any explicitly given size."""
    spec = DEFAULT_SPEC.scaled(scale) if scale != 1.0 else DEFAULT_SPEC
    return replace(
        spec,
        days=spec.days if days is None else days,
        routes=spec.routes if routes is None else routes,
        cities=spec.cities if cities is None else cities,
        hotels_per_city=spec.hotels_per_city if hotels_per_city is None else hotels_per_city,
    )


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
    routes: list[Route]
    rows: dict[str, dict[str, Row]] = field(default_factory=lambda: {t: {} for t in TABLES})
    pools: dict[str, KeyPool] = field(default_factory=lambda: {t: KeyPool() for t in TABLES})
    fares_by_flight: dict[str, list[str]] = field(default_factory=dict)
    route_of_flight: dict[str, Route] = field(default_factory=dict)
    # (departure_at, flight_id), sorted: finds flights near now without scanning them all.
    departures: list[tuple[str, str]] = field(default_factory=list)
    flight_numbers: dict[str, int] = field(default_factory=dict)
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
    world = World(start=now.date(), days=spec.days, routes=[])
    world.routes = _routes(spec.routes, rng, world.flight_numbers)
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
    for city in CITIES[: spec.cities]:
        _add_hotels(world, city, rng.randint(*spec.hotels_per_city), rng)
    return world


def _route_candidates() -> list[tuple[str, str, str]]:
    """(carrier, origin, destination) with one end at a hub of the carrier, both directions."""
    pairs: set[tuple[str, str, str]] = set()
    for carrier, hubs in CARRIER_HUBS.items():
        for hub in hubs:
            for other in AIRPORTS:
                if _plausible_leg(AIRPORTS_BY_CODE[hub], other):
                    low, high = sorted((hub, other.code))
                    pairs.add((carrier, low, high))
    return sorted(pairs)


def _plausible_leg(a: Airport, b: Airport) -> bool:
    """Not within one metro, not a hop a train beats, not beyond a long-haul jet's range."""
    return a.metro != b.metro and 250 <= great_circle_km(a, b) <= MAX_NONSTOP_KM


def _routes(count: int, rng: random.Random, numbers: dict[str, int]) -> list[Route]:
    # Carriers fly both directions of a pair, so pick pairs and emit both legs.
    candidates = _route_candidates()
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
