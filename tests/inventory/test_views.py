"""The inventory JSON API."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.streams import fares_apply, flights_apply, hotel_rates_apply, hotels_apply
from tests.factories import as_event, envelope, fare_row, flight_row, hotel_row, rate_row
from travelbot.streams import contract
from travelbot.streams.contract import CdcTopic

pytestmark = pytest.mark.django_db


def load(key_field: str, row: dict, topic: CdcTopic, apply, *, lsn: int = 1, op: str = "c") -> None:  # noqa: ANN001
    event = as_event(key_field, row[key_field], envelope(op, row, lsn=lsn), topic)
    assert event is not None
    apply([event])


def test_a_flight_carries_its_version_and_as_of(client: Client) -> None:
    load("flight_id", flight_row(), contract.FLIGHTS, flights_apply, lsn=42)
    body = client.get("/api/inventory/flights/BA117-2026-12-01").json()
    assert body["version"] == 42
    assert body["as_of"].endswith("Z")
    assert body["seats_available"] == {"economy": 37, "premium": 4, "business": 2}


def test_a_flight_keeps_its_utc_times_and_adds_the_airports_local_ones(client: Client) -> None:
    load("flight_id", flight_row(), contract.FLIGHTS, flights_apply)
    body = client.get("/api/inventory/flights/BA117-2026-12-01").json()
    assert (body["departure_at"], body["arrival_at"]) == (
        "2026-12-01T08:25:00Z",
        "2026-12-01T16:40:00Z",
    )
    assert body["departure_local"] == "2026-12-01T08:25:00+00:00"  # London in winter
    assert body["arrival_local"] == "2026-12-01T11:40:00-05:00"


def test_flight_search_takes_the_date_on_the_origins_clock(client: Client) -> None:
    # 23:30Z on 30 November is half past midnight on 1 December in Madrid.
    row = flight_row("IB3170-2026-12-01", origin="MAD", departure_at="2026-11-30T23:30:00Z",
                     arrival_at="2026-12-01T01:45:00Z", destination="LHR")  # fmt: skip
    load("flight_id", row, contract.FLIGHTS, flights_apply)
    search = "/api/inventory/flights?origin=MAD&destination=LHR&date="
    assert [f["flight_id"] for f in client.get(search + "2026-12-01").json()["flights"]] == [
        "IB3170-2026-12-01"
    ]
    assert client.get(search + "2026-11-30").json()["flights"] == []


def test_an_unknown_flight_is_a_404(client: Client) -> None:
    assert client.get("/api/inventory/flights/NOPE").status_code == 404


def test_a_deleted_fare_is_a_404(client: Client) -> None:
    load("fare_id", fare_row(), contract.FARES, fares_apply, lsn=1)
    load("fare_id", fare_row(), contract.FARES, fares_apply, lsn=2, op="d")
    assert client.get("/api/inventory/fares/BA117-2026-12-01:economy:Y").status_code == 404


def test_a_hotel_and_its_rate_are_served(client: Client) -> None:
    load("hotel_id", hotel_row(), contract.HOTELS, hotels_apply)
    load("rate_id", rate_row(), contract.HOTEL_RATES, hotel_rates_apply)
    assert client.get("/api/inventory/hotels/H-NYC-0042").json()["name"] == "Hudson Park Hotel"
    assert (
        client.get("/api/inventory/hotel_rates/H-NYC-0042:2026-12-01:double").json()["amount"]
        == "189.00"
    )


def test_flight_search_returns_flights_with_their_fares(client: Client) -> None:
    load("flight_id", flight_row(), contract.FLIGHTS, flights_apply)
    load("fare_id", fare_row(), contract.FARES, fares_apply)
    body = client.get("/api/inventory/flights?origin=lhr&destination=JFK&date=2026-12-01").json()
    assert [f["flight_id"] for f in body["flights"]] == ["BA117-2026-12-01"]
    assert body["flights"][0]["fares"][0]["amount"] == "412.00"


def test_flight_search_with_bad_parameters_is_a_400_with_reasons(client: Client) -> None:
    response = client.get("/api/inventory/flights?origin=LONDON&date=tomorrow")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"origin", "destination", "date"}


def test_hotel_search_prices_the_whole_stay(client: Client) -> None:
    load("hotel_id", hotel_row(), contract.HOTELS, hotels_apply)
    for night, amount in (("2026-12-01", "100.00"), ("2026-12-02", "120.50")):
        load(
            "rate_id",
            rate_row(f"H-NYC-0042:{night}:double", amount=amount),
            contract.HOTEL_RATES,
            hotel_rates_apply,
        )
    body = client.get(
        "/api/inventory/hotels?city=NYC&check_in=2026-12-01&check_out=2026-12-03"
    ).json()
    assert [(h["hotel"]["hotel_id"], h["total"], h["nights"]) for h in body["hotels"]] == [
        ("H-NYC-0042", "220.50", 2)
    ]


def test_hotel_search_with_check_out_before_check_in_is_a_400(client: Client) -> None:
    response = client.get("/api/inventory/hotels?city=NYC&check_in=2026-12-03&check_out=2026-12-01")
    assert response.status_code == 400
    assert "check_out" in response.json()["fields"]


def test_an_id_with_a_nul_is_a_400_not_a_500(client: Client) -> None:
    response = client.get("/api/inventory/flights/BA1%00")
    assert response.status_code == 400
    assert "control characters" in response.json()["error"]


def test_a_date_past_what_inventory_holds_is_a_400(client: Client) -> None:
    response = client.get("/api/inventory/flights?origin=LHR&destination=JFK&date=9999-12-31")
    assert response.status_code == 400
    assert "date" in response.json()["fields"]


SEARCHES = {
    "/api/inventory/flights": {
        "origin": "LHR",
        "destination": "JFK",
        "date": "2026-12-01",
        "cabin": "economy",
        "passengers": "2",
    },
    "/api/inventory/hotels": {
        "city": "NYC",
        "check_in": "2026-12-01",
        "check_out": "2026-12-04",
        "room_type": "double",
        "rooms": "1",
    },
}
PARAMETERS = [(path, name) for path, params in SEARCHES.items() for name in params]
DETAILS = [
    "/api/inventory/flights/",
    "/api/inventory/fares/",
    "/api/inventory/hotels/",
    "/api/inventory/hotel_rates/",
]


@pytest.mark.parametrize(("path", "name"), PARAMETERS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(max_size=40) | st.sampled_from(["9999-12-31", "0001-01-01", "\x00", "-1"]))
def test_no_search_parameter_value_gives_a_500(
    client: Client, path: str, name: str, value: str
) -> None:
    response = client.get(path, {**SEARCHES[path], name: value})
    assert response.status_code in {200, 400}, (name, value, response.content[:200])


@pytest.mark.parametrize("path", DETAILS)
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(min_size=1, max_size=120))
def test_no_record_id_gives_a_500(client: Client, path: str, value: str) -> None:
    response = client.get(path + quote(value, safe=""))
    assert response.status_code in {400, 404}, (value, response.content[:200])
