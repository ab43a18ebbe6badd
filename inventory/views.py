"""The inventory JSON API: thin views over the selectors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from inventory import selectors
from inventory.forms import FlightSearchForm, HotelSearchForm, id_problem
from inventory.representations import (
    fare_json,
    flight_json,
    flight_offer_json,
    hotel_json,
    hotel_offer_json,
    hotel_rate_json,
)


def _detail(
    record_id: str,
    get: Callable[[str], Any],
    present: Callable[[Any], dict[str, Any]],
    what: str,
) -> JsonResponse:
    if (problem := id_problem(record_id)) is not None:
        return JsonResponse({"error": f"invalid {what} id: {problem}"}, status=400)
    row = get(record_id)
    if row is None:
        return JsonResponse({"error": f"{what} not found"}, status=404)
    return JsonResponse(present(row))


def _bad_request(form: FlightSearchForm | HotelSearchForm) -> JsonResponse:
    errors = {
        field: [str(message) for message in messages] for field, messages in form.errors.items()
    }
    return JsonResponse({"error": "invalid parameters", "fields": errors}, status=400)


@require_GET
def flight_detail(request: HttpRequest, flight_id: str) -> JsonResponse:
    return _detail(flight_id, lambda i: selectors.flight_get(flight_id=i), flight_json, "flight")


@require_GET
def fare_detail(request: HttpRequest, fare_id: str) -> JsonResponse:
    return _detail(fare_id, lambda i: selectors.fare_get(fare_id=i), fare_json, "fare")


@require_GET
def hotel_detail(request: HttpRequest, hotel_id: str) -> JsonResponse:
    return _detail(hotel_id, lambda i: selectors.hotel_get(hotel_id=i), hotel_json, "hotel")


@require_GET
def hotel_rate_detail(request: HttpRequest, rate_id: str) -> JsonResponse:
    return _detail(
        rate_id, lambda i: selectors.hotel_rate_get(rate_id=i), hotel_rate_json, "hotel rate"
    )


@require_GET
def flight_search(request: HttpRequest) -> JsonResponse:
    form = FlightSearchForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    data = form.cleaned_data
    offers = selectors.flights_search(
        origin=data["origin"],
        destination=data["destination"],
        day=data["date"],
        cabin=data["cabin"] or None,
        passengers=data["passengers"] or 1,
    )
    return JsonResponse({"flights": [flight_offer_json(offer) for offer in offers]})


@require_GET
def hotel_search(request: HttpRequest) -> JsonResponse:
    form = HotelSearchForm(request.GET)
    if not form.is_valid():
        return _bad_request(form)
    data = form.cleaned_data
    offers = selectors.hotels_search(
        city=data["city"],
        check_in=data["check_in"],
        check_out=data["check_out"],
        room_type=data["room_type"] or None,
        rooms=data["rooms"] or 1,
    )
    return JsonResponse({"hotels": [hotel_offer_json(offer) for offer in offers]})
