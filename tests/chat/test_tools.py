"""Function-calling tools: each answers with live facts carrying versions and as_of, only
ever about the asking traveller, and refuses bad arguments with a message, not an error."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User

from chat.context import TurnContext, turn_context
from chat.tools import tool_run
from harness.worlds import DemoWorld
from inventory.models import Flight, Hotel, HotelRate
from places.selectors import airport_time
from tests.chat.conftest import NOW

pytestmark = pytest.mark.django_db


def context_of(user: User) -> TurnContext:
    return turn_context(user=user, conversation=None, message="hello", now=NOW)


def run(user: User, name: str, **arguments: Any) -> Any:
    return tool_run(name=name, arguments=json.dumps(arguments), context=context_of(user))


def a_flight_tomorrow() -> Flight:
    flight = Flight.objects.filter(departure_at__gte=NOW + timedelta(days=1)).first()
    assert flight is not None and flight.departure_at is not None
    return flight


def test_search_flights_finds_the_route_on_the_date_with_fares(alex: User) -> None:
    flight = a_flight_tomorrow()
    assert flight.departure_at is not None
    local = airport_time(code=flight.origin, moment=flight.departure_at)  # a ticket's date
    assert local is not None
    result = run(alex, "search_flights", origin=flight.origin, destination=flight.destination,
                 date=local.date().isoformat())  # fmt: skip
    assert flight.flight_id in {f.id for f in result.facts if f.kind == "flight"}
    assert any(f.kind == "fare" for f in result.facts)
    assert all(f.version and f.as_of for f in result.facts)


def test_flight_status_finds_the_flight_by_its_number(alex: User) -> None:
    flight = a_flight_tomorrow()
    result = run(alex, "flight_status", flight_number=flight.flight_number)
    assert any(f.kind == "flight" and f.title.startswith(str(flight.flight_number))
               for f in result.facts)  # fmt: skip


def test_search_hotels_finds_rooms_free_for_the_stay(alex: User) -> None:
    rate = HotelRate.objects.filter(rooms_available__gte=1, night__gt=NOW.date()).first()
    assert rate is not None and rate.night is not None
    city = Hotel.objects.get(pk=rate.hotel_id).city
    result = run(alex, "search_hotels", city=city, check_in=rate.night.isoformat(), nights=1)
    assert rate.hotel_id in {f.id for f in result.facts if f.kind == "hotel"}


def test_my_bookings_are_the_asking_travellers_own(alex: User, stranger: User) -> None:
    profile = context_of(alex).profile
    assert profile is not None
    mine = run(alex, "my_bookings")
    assert {f.id for f in mine.facts} == {trip.booking_ref for trip in profile.upcoming}
    assert run(stranger, "my_bookings").error.endswith("not linked")


def test_search_policies_returns_excerpts(alex: User, demo_world: DemoWorld) -> None:
    result = run(alex, "search_policies", query="checked baggage allowance")
    assert result.error == "" and isinstance(result.chunks, list)


@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        ("search_flights", '{"origin": "Atlantis", "destination": "LHR"}', "no airport"),
        ("search_hotels", '{"city": "London", "check_in": "2026-12-01", "nights": 0}', "nights"),
        ("search_hotels", '{"city": "London", "check_in": "soon"}', "isoformat"),
        ("flight_status", '{"flight_number": "hello"}', "a carrier we serve"),
        ("flight_status", "not json", "Expecting value"),
        ("book_everything", "{}", "unknown tool"),
    ],
)
def test_bad_arguments_give_an_error_result(
    alex: User, name: str, arguments: str, message: str
) -> None:
    result = tool_run(name=name, arguments=arguments, context=context_of(alex))
    assert message in result.error and not result.facts
