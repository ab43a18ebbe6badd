"""Row schemas of the four inventory topics, exactly as the stream contract defines them."""

from __future__ import annotations

from travelbot.streams import fields as f

CABINS = ("economy", "premium", "business")
FLIGHT_STATUSES = ("scheduled", "delayed", "boarding", "departed", "arrived", "cancelled")
ROOM_TYPES = ("single", "double", "suite")

FLIGHT = {
    "flight_id": f.text(max_length=64),
    "carrier": f.text(max_length=3),
    "flight_number": f.text(max_length=8),
    "origin": f.iata(),
    "destination": f.iata(),
    "departure_at": f.timestamp(),
    "arrival_at": f.timestamp(),
    "status": f.choice(FLIGHT_STATUSES),
    "gate": f.text(max_length=8, nullable=True),
    "seats_available": f.int_map(keys=CABINS, maximum=1000),
}

FARE = {
    "fare_id": f.text(max_length=96),
    "flight_id": f.text(max_length=64),
    "cabin": f.choice(CABINS),
    "fare_class": f.text(max_length=2),
    "amount": f.money(),
    "currency": f.currency(),
    "refundable": f.boolean(),
    "change_fee": f.money(nullable=True),
    "baggage_kg": f.integer(minimum=0, maximum=100),
}

HOTEL = {
    "hotel_id": f.text(max_length=64),
    "name": f.text(max_length=200),
    "city": f.iata(),
    "address": f.text(max_length=300),
    "stars": f.integer(minimum=0, maximum=5),
    "amenities": f.text_list(),
    "latitude": f.number(minimum=-90, maximum=90),
    "longitude": f.number(minimum=-180, maximum=180),
}

HOTEL_RATE = {
    "rate_id": f.text(max_length=96),
    "hotel_id": f.text(max_length=64),
    "night": f.day(),
    "room_type": f.choice(ROOM_TYPES),
    "rooms_available": f.integer(minimum=0, maximum=10_000),
    "amount": f.money(),
    "currency": f.currency(),
    "refundable": f.boolean(),
}
