"""Places, dates and flight numbers are read from a question without any model."""

from __future__ import annotations

from datetime import date

import pytest

from chat.entities import dates_in, recognise

TUESDAY = date(2026, 11, 24)


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
    found = recognise(question, today=TUESDAY, home="LHR")
    assert found.origin is not None and found.destination is not None
    assert (found.origin.code, found.destination.code) == (origin, destination)


def test_codes_count_only_in_capitals_so_words_are_not_airports() -> None:
    found = recognise("the man at the desk was mad", today=TUESDAY)
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
    found = recognise("is BA117 delayed? we are 2 adults in business", today=TUESDAY)
    assert found.flight_numbers == ["BA117"]
    assert (found.cabin, found.passengers, found.wants_status) == ("business", 2, True)
    assert recognise("hotel in Rome for 3 nights", today=TUESDAY).nights == 3
    assert recognise("is my flight on time", today=TUESDAY).about_my_trip
