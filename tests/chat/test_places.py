"""Places and airlines the product has never seen, published on the streams as the contract
says, are found by what a traveller calls them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from chat.context import turn_context
from chat.prompts import turn_messages
from inventory.streams import fares_apply, flights_apply, hotel_rates_apply, hotels_apply
from tests.chat.conftest import NOW
from tests.factories import apply_rows as publish
from tests.factories import fare_row, flight_row, hotel_row, rate_row
from travelbot.streams import contract

pytestmark = pytest.mark.django_db

# Icelandair from Porto to Reykjavik-Keflavik: no simulated world has this route or carrier.
DAY = (NOW + timedelta(days=2)).date()
FLIGHT_ID = f"FI553-{DAY}"
DEPARTS = f"{DAY}T14:10:00Z"


@pytest.fixture
def porto_reykjavik() -> None:
    flight = flight_row(
        FLIGHT_ID, carrier="FI", flight_number="FI553", origin="OPO", destination="KEF",
        departure_at=DEPARTS, arrival_at=f"{DAY}T17:55:00Z",
    )  # fmt: skip
    fare = fare_row(f"{FLIGHT_ID}:economy:Y", amount="187.40", currency="EUR")
    hotel = hotel_row("H-REK-7", name="Hotel Tjörn", city="REK", address="Lækjargata 2")
    rates = [
        rate_row(f"H-REK-7:{DAY + timedelta(days=n)}:double", amount="210.00", currency="ISK")
        for n in range(3)
    ]
    with transaction.atomic():
        publish(flights_apply, contract.FLIGHTS, [flight])
        publish(fares_apply, contract.FARES, [fare])
        publish(hotels_apply, contract.HOTELS, [hotel])
        publish(hotel_rates_apply, contract.HOTEL_RATES, rates)


@pytest.mark.parametrize(
    "question",
    [
        "flights from Porto to Reykjavik on {day}",
        "OPO to KEF {day}",
        "is FI553 on time?",
        "how much is FI 553 on {day}?",
    ],
)
def test_a_flight_outside_any_simulated_world_is_found_with_its_fare(
    stranger: User, porto_reykjavik: None, question: str
) -> None:
    message = question.format(day=DAY.isoformat())
    context = turn_context(user=stranger, conversation=None, message=message, now=NOW)
    assert FLIGHT_ID in [f.id for f in context.facts if f.kind == "flight"]
    if "on time" not in question:
        assert any("187.40 EUR" in f.lines[0] for f in context.facts if f.kind == "fare")


def test_a_hotel_in_a_city_no_simulated_world_used_is_found_for_a_stay(
    stranger: User, porto_reykjavik: None
) -> None:
    message = f"a hotel in Reykjavik for 2 nights from {DAY.isoformat()}"
    context = turn_context(user=stranger, conversation=None, message=message, now=NOW)
    [hotel] = [f for f in context.facts if f.kind == "hotel"]
    assert hotel.id == "H-REK-7" and "total 420.00 ISK" in hotel.lines[0]


def test_a_place_we_do_not_serve_is_said_so_in_the_prompt(
    stranger: User, porto_reykjavik: None
) -> None:
    message = "Are there flights from Berlin to Reykjavik tomorrow?"
    context = turn_context(user=stranger, conversation=None, message=message, now=NOW)
    assert not [f for f in context.facts if f.kind == "flight"]
    prompt = turn_messages(context, message)[-1]["content"]
    assert "no airport or city called 'Berlin' in our inventory" in prompt


def test_a_name_of_two_places_we_serve_is_asked_back(stranger: User, porto_reykjavik: None) -> None:
    for code, number in (("PDX", "AS100"), ("PWM", "B6200")):
        flight = flight_row(f"{number}-{DAY}", carrier=number[:2], flight_number=number,
                            origin="OPO", destination=code, departure_at=DEPARTS,
                            arrival_at=f"{DAY}T23:00:00Z")  # fmt: skip
        with transaction.atomic():
            publish(flights_apply, contract.FLIGHTS, [flight])
    message = "flights from Porto to Portland?"
    context = turn_context(user=stranger, conversation=None, message=message, now=NOW)
    assert context.clarification == (
        "Which Portland do you mean: Portland (Oregon, US) or Portland (Maine, US)?"
    )
    assert not [f for f in context.facts if f.kind == "flight"]


def test_hotels_where_we_sell_only_flights_are_said_to_be_unsold(
    stranger: User, porto_reykjavik: None
) -> None:
    message = f"a hotel in Porto on {DAY.isoformat()}"
    context = turn_context(user=stranger, conversation=None, message=message, now=NOW)
    assert not [f for f in context.facts if f.kind == "hotel"]
    assert "NOTE: we sell no hotels in Porto." in turn_messages(context, message)[-1]["content"]
