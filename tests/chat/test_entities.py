"""Places, dates and flight numbers are read from a question without any model."""

from __future__ import annotations

from datetime import date

import pytest

from chat.entities import dates_in, recognise
from places.gazetteer import Gazetteer, gazetteer_build
from places.selectors import reference

TUESDAY = date(2026, 11, 24)
# Places a feed might serve: none of the names below is known to recognition by any list of
# its own; each comes from the reference data because the feed serves its airport.
AIRPORTS = ("LHR", "LGW", "LCY", "MAN", "CDG", "MAD", "LIS", "JFK", "EWR", "PDX", "SEA")


def served(
    airports: tuple[str, ...] = AIRPORTS,
    cities: tuple[str, ...] = ("LON", "PAR", "NYC"),
    carriers: tuple[str, ...] = ("BA", "U2", "AS"),
) -> Gazetteer:
    return gazetteer_build(
        reference=reference(), airports=airports, hotel_cities=cities, carriers=carriers
    )


pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("question", "origin", "destination"),
    [
        ("flights from LHR to Paris", "LHR", "PAR"),
        ("Can I still get to New York on Friday?", "LHR", "NYC"),  # from home
        ("cheapest flight manchester to nyc", "MAN", "NYC"),
        ("London to Madrid please", "LON", "MAD"),
    ],
)
def test_a_route_is_read_with_the_home_airport_as_default_origin(
    question: str, origin: str, destination: str
) -> None:
    found = recognise(question, today=TUESDAY, home="LHR", places=served())
    assert found.origin is not None and found.destination is not None
    assert (found.origin.code, found.destination.code) == (origin, destination)


def test_codes_count_only_in_capitals_so_words_are_not_airports() -> None:
    found = recognise("the man at the desk was mad", today=TUESDAY, places=served())
    assert found.places == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on friday", date(2026, 11, 27)),
        ("next friday", date(2026, 12, 4)),
        ("tomorrow", date(2026, 11, 25)),
        ("the day after tomorrow", date(2026, 11, 26)),
        ("4 dec", date(2026, 12, 4)),
        ("december 4th", date(2026, 12, 4)),
        ("3rd of january", date(2027, 1, 3)),  # the next one
        ("12/12", date(2026, 12, 12)),  # day/month
        ("2027-02-01", date(2027, 2, 1)),
        ("in 3 days", date(2026, 11, 27)),
        ("next week", date(2026, 11, 30)),
    ],
)
def test_dates_are_read_against_the_travellers_today(text: str, expected: date) -> None:
    assert dates_in(text, today=TUESDAY) == [expected]


def test_flight_numbers_cabin_party_and_intent() -> None:
    found = recognise(
        "is BA117 delayed? we are 2 adults in business", today=TUESDAY, places=served()
    )
    assert found.flight_numbers == ["BA117"]
    assert (found.cabin, found.passengers, found.wants_status) == ("business", 2, True)
    assert recognise("hotel in Rome for 3 nights", today=TUESDAY, places=served()).nights == 3
    assert recognise("is my flight on time", today=TUESDAY, places=served()).about_my_trip


def test_a_metropolitan_area_is_every_airport_served_there() -> None:
    london = recognise("hotels in London", today=TUESDAY, places=served()).destination
    assert london is not None
    assert (london.code, set(london.airports), london.hotel_city) == (
        "LON",
        {"LHR", "LGW", "LCY"},
        "LON",
    )
    heathrow = recognise("from Heathrow to Lisbon", today=TUESDAY, places=served()).origin
    assert heathrow is not None and heathrow.airports == ("LHR",)


def test_a_name_of_several_places_is_resolved_by_what_the_feeds_serve() -> None:
    found = recognise("flights from Seattle to Portland", today=TUESDAY, places=served())
    assert found.destination is not None and found.destination.airports == ("PDX",)
    assert found.ambiguous == []


def test_a_name_of_several_served_places_is_ambiguous() -> None:
    both = served(airports=(*AIRPORTS, "PWM"))
    found = recognise("flights from Seattle to Portland", today=TUESDAY, places=both)
    assert found.destination is None
    [(name, places)] = found.ambiguous
    assert name == "Portland" and {p.code for p in places} == {"PDX", "PWM"}
    assert {p.region for p in places} == {"Oregon, US", "Maine, US"}


def test_a_real_place_no_feed_serves_is_named_as_unserved_not_replaced() -> None:
    found = recognise(
        "Are there flights from Berlin to Lisbon tomorrow?",
        today=TUESDAY,
        home="LHR",
        places=served(),
    )
    assert found.unserved == ["Berlin"]
    assert found.origin is None  # not the traveller's home instead
    assert found.destination is not None and found.destination.code == "LIS"


@pytest.mark.parametrize("question", ["I will be in Madrid in May", "to Friday and Sunday"])
def test_words_after_prepositions_are_not_unserved_places(question: str) -> None:
    assert recognise(question, today=TUESDAY, places=served()).unserved == []


def test_flight_numbers_are_of_carriers_the_feeds_carry_in_any_designator_form() -> None:
    found = recognise("U2 8123 or AS 1234 or XY123", today=TUESDAY, places=served())
    assert found.flight_numbers == ["U28123", "AS1234"]


WORLD_AIRPORTS = (
    "FRA", "YVR", "DEL", "IST", "YUL", "DFW", "ARN", "ZRH", "NRT", "HND", "MEX", "LAS", "BOM",
)  # fmt: skip


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Frankfurt", "FRA"),  # the dataset's city is "Frankfurt am Main"
        ("Vancouver", "YVR"),  # ... "Richmond", the town the airport is in
        ("Delhi", "DEL"),  # ... "New Delhi"
        ("Istanbul", "IST"),  # ... "Arnavutköy, Istanbul"
        ("Montreal", "YUL"),  # ... "Dorval"; the name is "Montréal-Pierre Elliott Trudeau"
        ("Fort Worth", "DFW"),
        ("Stockholm", "STO"),  # a metropolitan area, here of one served airport
        ("Zürich", "ZRH"),
        ("Tokyo", "TYO"),
        ("Mexico City", "MEX"),
        ("Bombay", "BOM"),
    ],
)
def test_cities_are_found_by_what_travellers_call_them(name: str, code: str) -> None:
    places = served(airports=("LHR", *WORLD_AIRPORTS))
    found = recognise(f"flights from London to {name}", today=TUESDAY, places=places)
    assert found.destination is not None and found.destination.code == code
    assert found.unserved == []
