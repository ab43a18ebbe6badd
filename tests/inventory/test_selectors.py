"""Flight and hotel search over live inventory."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from inventory.selectors import flights_search, hotels_search
from inventory.streams import fares_apply, flights_apply, hotel_rates_apply, hotels_apply
from tests.factories import as_event, envelope, fare_row, flight_row, hotel_row, rate_row
from travelbot.streams import contract
from travelbot.streams.contract import CdcTopic

pytestmark = pytest.mark.django_db
DAY = date(2026, 12, 1)


def apply(key_field: str, rows: list[dict], topic: CdcTopic, handler) -> None:  # noqa: ANN001
    events = [as_event(key_field, r[key_field], envelope("c", r, lsn=1), topic) for r in rows]
    handler([e for e in events if e is not None])


def test_it_skips_cancelled_flights_and_flights_without_enough_seats() -> None:
    apply(
        "flight_id",
        [
            flight_row("AA1-2026-12-01"),
            flight_row("AA2-2026-12-01", status="cancelled"),
            flight_row(
                "AA3-2026-12-01", seats_available={"economy": 1, "premium": 0, "business": 9}
            ),
        ],
        contract.FLIGHTS,
        flights_apply,
    )
    offers = flights_search(origin="LHR", destination="JFK", day=DAY, cabin="economy", passengers=2)
    assert [o.flight.flight_id for o in offers] == ["AA1-2026-12-01"]


def test_flight_search_takes_two_queries_whatever_the_number_of_flights() -> None:
    ids = [f"AA{n}-2026-12-01" for n in range(20)]
    apply("flight_id", [flight_row(i) for i in ids], contract.FLIGHTS, flights_apply)
    apply("fare_id", [fare_row(f"{i}:economy:Y") for i in ids], contract.FARES, fares_apply)
    flights_search(origin="LHR", destination="JFK", day=DAY)  # reads the airports once
    with CaptureQueriesContext(connection) as queries:
        offers = flights_search(origin="LHR", destination="JFK", day=DAY)
    assert len(offers) == 20 and all(len(o.fares) == 1 for o in offers)
    assert len(queries) == 2


def test_a_hotel_missing_one_night_is_not_offered() -> None:
    apply(
        "hotel_id",
        [hotel_row("H-NYC-0001"), hotel_row("H-NYC-0002")],
        contract.HOTELS,
        hotels_apply,
    )
    rates = [rate_row(f"H-NYC-0001:2026-12-0{d}:double") for d in (1, 2)]
    rates += [rate_row("H-NYC-0002:2026-12-01:double")]
    rates += [rate_row("H-NYC-0002:2026-12-02:double", rooms_available=0)]
    apply("rate_id", rates, contract.HOTEL_RATES, hotel_rates_apply)
    offers = hotels_search(
        city="NYC", check_in=DAY, check_out=date(2026, 12, 3), room_type="double"
    )
    assert [o.hotel.hotel_id for o in offers] == ["H-NYC-0001"]


def test_a_metropolitan_code_searches_every_airport_of_the_city() -> None:
    rows = [
        flight_row("BA1-2026-12-01", origin="LHR", destination="JFK"),
        flight_row("BA2-2026-12-01", origin="LGW", destination="EWR"),
        flight_row("BA3-2026-12-01", origin="LHR", destination="BOS"),
    ]
    apply("flight_id", rows, contract.FLIGHTS, flights_apply)
    offers = flights_search(origin="LON", destination="NYC", day=DAY)
    assert [o.flight.flight_id for o in offers] == ["BA1-2026-12-01", "BA2-2026-12-01"]
