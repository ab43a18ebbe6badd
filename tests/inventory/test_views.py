"""The inventory JSON API."""

from __future__ import annotations

import pytest
from django.test import Client

from inventory import contract
from inventory.streams import fares_apply, flights_apply, hotel_rates_apply, hotels_apply
from tests.factories import as_event, envelope, fare_row, flight_row, hotel_row, rate_row

pytestmark = pytest.mark.django_db


def load(key_field: str, row: dict, schema: dict, apply, *, lsn: int = 1, op: str = "c") -> None:  # noqa: ANN001
    event = as_event(key_field, row[key_field], envelope(op, row, lsn=lsn), schema)
    assert event is not None
    apply([event])


def test_a_flight_carries_its_version_and_as_of(client: Client) -> None:
    load("flight_id", flight_row(), contract.FLIGHT, flights_apply, lsn=42)
    body = client.get("/api/inventory/flights/BA117-2026-12-01").json()
    assert body["version"] == 42
    assert body["as_of"].endswith("Z")
    assert body["seats_available"] == {"economy": 37, "premium": 4, "business": 2}


def test_an_unknown_flight_is_a_404(client: Client) -> None:
    assert client.get("/api/inventory/flights/NOPE").status_code == 404


def test_a_deleted_fare_is_a_404(client: Client) -> None:
    load("fare_id", fare_row(), contract.FARE, fares_apply, lsn=1)
    load("fare_id", fare_row(), contract.FARE, fares_apply, lsn=2, op="d")
    assert client.get("/api/inventory/fares/BA117-2026-12-01:economy:Y").status_code == 404


def test_a_hotel_and_its_rate_are_served(client: Client) -> None:
    load("hotel_id", hotel_row(), contract.HOTEL, hotels_apply)
    load("rate_id", rate_row(), contract.HOTEL_RATE, hotel_rates_apply)
    assert client.get("/api/inventory/hotels/H-NYC-0042").json()["name"] == "Hudson Park Hotel"
    assert (
        client.get("/api/inventory/hotel_rates/H-NYC-0042:2026-12-01:double").json()["amount"]
        == "189.00"
    )


def test_flight_search_returns_flights_with_their_fares(client: Client) -> None:
    load("flight_id", flight_row(), contract.FLIGHT, flights_apply)
    load("fare_id", fare_row(), contract.FARE, fares_apply)
    body = client.get("/api/inventory/flights?origin=lhr&destination=JFK&date=2026-12-01").json()
    assert [f["flight_id"] for f in body["flights"]] == ["BA117-2026-12-01"]
    assert body["flights"][0]["fares"][0]["amount"] == "412.00"


def test_flight_search_with_bad_parameters_is_a_400_with_reasons(client: Client) -> None:
    response = client.get("/api/inventory/flights?origin=LONDON&date=tomorrow")
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"origin", "destination", "date"}


def test_hotel_search_prices_the_whole_stay(client: Client) -> None:
    load("hotel_id", hotel_row(), contract.HOTEL, hotels_apply)
    for night, amount in (("2026-12-01", "100.00"), ("2026-12-02", "120.50")):
        load(
            "rate_id",
            rate_row(f"H-NYC-0042:{night}:double", amount=amount),
            contract.HOTEL_RATE,
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
