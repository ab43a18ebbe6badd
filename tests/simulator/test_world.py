"""The simulated world's places and size: the default world's airports and carriers, a world
ten times as large, all drawn from the airport reference data (pure: no broker, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from zoneinfo import ZoneInfo

import airportsdata
import pytest

from simulator.build import SimulatedSources, build_sources
from simulator.geography import AIRPORTS_BY_CODE, CITIES, USD_RATE
from simulator.options import SimulatorOptions
from simulator.world import parse_iso

WINTER = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
DEFAULT_AIRPORTS = {
    "LHR", "LGW", "CDG", "ORY", "FRA", "MUC", "AMS", "MAD", "BCN", "FCO", "DUB", "ZRH", "VIE",
    "CPH", "LIS", "ATH", "IST", "EDI", "MAN", "JFK", "EWR", "BOS", "ATL", "MIA", "DFW", "DEN",
    "LAX", "SFO", "SEA", "LAS", "YVR", "MEX", "DXB", "DOH", "SIN", "HKG", "BKK", "DEL", "BOM",
    "SYD",
}  # fmt: skip
DEFAULT_CARRIERS = {
    "BA": "GBP", "AF": "EUR", "LH": "EUR", "IB": "EUR", "KL": "EUR", "AZ": "EUR",
    "UA": "USD", "DL": "USD", "AA": "USD", "EK": "AED",
}  # fmt: skip
DEFAULT_CITIES = {
    "LON", "NYC", "PAR", "AMS", "MAD", "BCN", "ROM", "DUB", "ZRH", "VIE", "CPH", "LIS", "ATH",
    "IST", "EDI", "BOS", "MIA", "LAX", "SFO", "LAS", "DXB", "SIN", "HKG", "BKK", "SYD",
}  # fmt: skip
# Flights leave between 06:00 and 22:00 standard time: 23:00 at the latest in summer time.
FIRST_HOUR, LAST_HOUR = 6, 23


@cache
def sources(scale: float, now: datetime = WINTER) -> SimulatedSources:
    # One day of flights and rates keeps the ten-times world quick to build.
    return build_sources(SimulatorOptions(scale=scale, days=1, customers=40), now=now)


def test_the_default_world_has_todays_airports_carriers_and_cities() -> None:
    places = sources(1.0).world.places
    assert {airport.code for airport in places.airports} == DEFAULT_AIRPORTS
    assert set(places.carrier_hubs) == set(DEFAULT_CARRIERS)
    assert {city.code for city in places.cities} == DEFAULT_CITIES


def test_the_default_carriers_sell_in_todays_currencies() -> None:
    rows = sources(1.0).world.rows
    carrier = {key: flight["carrier"] for key, flight in rows["flights"].items()}
    currencies = {carrier[fare["flight_id"]]: fare["currency"] for fare in rows["fares"].values()}
    assert currencies == DEFAULT_CARRIERS


def test_the_default_world_keeps_the_demo_traveller_home_in_london() -> None:
    demo = sources(1.0).people_snapshot[0].value
    assert demo is not None and demo["after"]["home_airport"] == "LHR"


@pytest.mark.parametrize(
    "table", ["airports", "carriers", "hotel_cities", "routes", "flights", "fares", "hotels"]
)
def test_scale_ten_builds_about_ten_times_the_world(table: str) -> None:
    ratio = sources(10.0).size()[table] / sources(1.0).size()[table]
    assert 8 <= ratio <= 12


@pytest.mark.parametrize("table", ["hotel_rates", "customers", "members", "reservations"])
def test_scale_ten_has_about_ten_times_the_rates_and_people(table: str) -> None:
    ratio = sources(10.0).size()[table] / sources(1.0).size()[table]
    assert 7 <= ratio <= 13


def test_scale_ten_keeps_the_default_places() -> None:
    places = sources(10.0).world.places
    assert {airport.code for airport in places.airports} >= DEFAULT_AIRPORTS
    assert set(DEFAULT_CARRIERS) <= set(places.carrier_hubs)


def test_every_airport_of_the_world_is_a_real_one() -> None:
    reference = airportsdata.load("IATA")
    world = sources(10.0).world
    codes = {airport.code for airport in world.places.airports}
    assert codes <= set(reference)
    served = {f[end] for f in world.rows["flights"].values() for end in ("origin", "destination")}
    assert served <= codes
    for airport in world.places.airports:
        assert airport.time_zone == reference[airport.code]["tz"]


def test_every_hotel_is_in_a_city_its_airports_serve() -> None:
    world = sources(10.0).world
    metros = {airport.metro for airport in world.places.airports}
    assert {hotel["city"] for hotel in world.rows["hotels"].values()} <= metros


@pytest.mark.parametrize("now", [WINTER, SUMMER], ids=["winter", "summer"])
def test_every_flight_departs_at_a_plausible_local_hour(now: datetime) -> None:
    for flight in sources(10.0, now).world.rows["flights"].values():
        zone = ZoneInfo(AIRPORTS_BY_CODE[flight["origin"]].time_zone)
        local = parse_iso(flight["departure_at"]).astimezone(zone)
        assert FIRST_HOUR <= local.hour <= LAST_HOUR, (flight["flight_id"], local)


def test_every_city_prices_in_a_currency_with_a_rate() -> None:
    assert {city.currency for city in CITIES} <= set(USD_RATE)


def test_scales_below_one_keep_the_default_places() -> None:
    places = build_sources(SimulatorOptions(scale=0.1, days=1), now=WINTER).world.places
    assert {airport.code for airport in places.airports} == DEFAULT_AIRPORTS
    assert len(places.cities) == 2
