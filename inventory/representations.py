"""JSON shapes of inventory for the API. Every body carries `version` and `as_of`."""

from __future__ import annotations

from typing import Any

from inventory.models import Fare, Flight, Hotel, HotelRate, Versioned
from inventory.selectors import FlightOffer, HotelOffer
from places.selectors import airport_time
from travelbot.money import money_text as money
from travelbot.streams.contract import CABINS
from travelbot.timefmt import iso_local, iso_z


def _versioned(row: Versioned) -> dict[str, Any]:
    return {"version": row.version, "as_of": iso_z(row.as_of)}


def flight_json(flight: Flight) -> dict[str, Any]:
    return {
        "flight_id": flight.flight_id,
        "carrier": flight.carrier,
        "flight_number": flight.flight_number,
        "origin": flight.origin,
        "destination": flight.destination,
        "departure_at": iso_z(flight.departure_at),
        "arrival_at": iso_z(flight.arrival_at),
        # the same instants on the airports' clocks, with their offsets
        "departure_local": iso_local(airport_time(code=flight.origin, moment=flight.departure_at)),
        "arrival_local": iso_local(airport_time(code=flight.destination, moment=flight.arrival_at)),
        "status": flight.status,
        "gate": flight.gate,
        "seats_available": {cabin: flight.seats_for(cabin) for cabin in CABINS},
        **_versioned(flight),
    }


def fare_json(fare: Fare) -> dict[str, Any]:
    return {
        "fare_id": fare.fare_id,
        "flight_id": fare.flight_id,
        "cabin": fare.cabin,
        "fare_class": fare.fare_class,
        "amount": money(fare.amount),
        "currency": fare.currency,
        "refundable": fare.refundable,
        "change_fee": money(fare.change_fee),
        "baggage_kg": fare.baggage_kg,
        **_versioned(fare),
    }


def hotel_json(hotel: Hotel) -> dict[str, Any]:
    return {
        "hotel_id": hotel.hotel_id,
        "name": hotel.name,
        "city": hotel.city,
        "address": hotel.address,
        "stars": hotel.stars,
        "amenities": hotel.amenities,
        "latitude": hotel.latitude,
        "longitude": hotel.longitude,
        **_versioned(hotel),
    }


def hotel_rate_json(rate: HotelRate) -> dict[str, Any]:
    return {
        "rate_id": rate.rate_id,
        "hotel_id": rate.hotel_id,
        "night": rate.night.isoformat() if rate.night else None,
        "room_type": rate.room_type,
        "rooms_available": rate.rooms_available,
        "amount": money(rate.amount),
        "currency": rate.currency,
        "refundable": rate.refundable,
        **_versioned(rate),
    }


def flight_offer_json(offer: FlightOffer) -> dict[str, Any]:
    return {**flight_json(offer.flight), "fares": [fare_json(fare) for fare in offer.fares]}


def hotel_offer_json(offer: HotelOffer) -> dict[str, Any]:
    return {
        "hotel": hotel_json(offer.hotel),
        "room_type": offer.room_type,
        "nights": offer.nights,
        "total": money(offer.total),
        "currency": offer.currency,
        "rooms_available": offer.rooms_available,
        "refundable": offer.refundable,
        "rates": [hotel_rate_json(rate) for rate in offer.rates],
    }
