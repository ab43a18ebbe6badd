"""Live inventory, mirrored from the third parties' CDC streams (travelbot.streams.mirror says
what every mirrored row carries). Money is stored exactly as sent (up to 4 decimals; the
contract refuses more). Rows reference each other by id without foreign keys: topics are not
ordered relative to each other, so a fare may arrive before its flight.
"""

from __future__ import annotations

from django.db import models

from travelbot.streams.mirror import Versioned

__all__ = ["Fare", "Flight", "Hotel", "HotelRate", "ServedCode", "Versioned"]


class Flight(Versioned):
    flight_id = models.CharField(max_length=64, primary_key=True)
    carrier = models.CharField(max_length=3, null=True)
    flight_number = models.CharField(max_length=8, null=True)
    origin = models.CharField(max_length=3, null=True)
    destination = models.CharField(max_length=3, null=True)
    departure_at = models.DateTimeField(null=True)
    arrival_at = models.DateTimeField(null=True)
    status = models.CharField(max_length=10, null=True)
    gate = models.CharField(max_length=8, null=True)
    seats_economy = models.IntegerField(null=True)
    seats_premium = models.IntegerField(null=True)
    seats_business = models.IntegerField(null=True)

    class Meta(Versioned.Meta):
        indexes = [
            models.Index(
                fields=["origin", "destination", "departure_at"],
                name="flight_route_departure",
                condition=models.Q(deleted=False),
            ),
        ]

    def seats_for(self, cabin: str) -> int:
        return int(getattr(self, f"seats_{cabin}") or 0)


class Fare(Versioned):
    fare_id = models.CharField(max_length=96, primary_key=True)
    flight_id = models.CharField(max_length=64, null=True)
    cabin = models.CharField(max_length=10, null=True)
    fare_class = models.CharField(max_length=2, null=True)
    amount = models.DecimalField(max_digits=16, decimal_places=4, null=True)
    currency = models.CharField(max_length=3, null=True)
    refundable = models.BooleanField(null=True)
    change_fee = models.DecimalField(max_digits=16, decimal_places=4, null=True)
    baggage_kg = models.IntegerField(null=True)

    class Meta(Versioned.Meta):
        indexes = [
            models.Index(
                fields=["flight_id", "cabin"],
                name="fare_flight_cabin",
                condition=models.Q(deleted=False),
            )
        ]


class Hotel(Versioned):
    hotel_id = models.CharField(max_length=64, primary_key=True)
    name = models.CharField(max_length=200, null=True)
    city = models.CharField(max_length=3, null=True)
    address = models.CharField(max_length=300, null=True)
    stars = models.IntegerField(null=True)
    amenities = models.JSONField(null=True)
    latitude = models.FloatField(null=True)
    longitude = models.FloatField(null=True)

    class Meta(Versioned.Meta):
        indexes = [
            models.Index(fields=["city"], name="hotel_city", condition=models.Q(deleted=False))
        ]


class HotelRate(Versioned):
    rate_id = models.CharField(max_length=96, primary_key=True)
    hotel_id = models.CharField(max_length=64, null=True)
    night = models.DateField(null=True)
    room_type = models.CharField(max_length=10, null=True)
    rooms_available = models.IntegerField(null=True)
    amount = models.DecimalField(max_digits=16, decimal_places=4, null=True)
    currency = models.CharField(max_length=3, null=True)
    refundable = models.BooleanField(null=True)

    class Meta(Versioned.Meta):
        indexes = [
            models.Index(
                fields=["hotel_id", "room_type", "night"],
                name="rate_hotel_room_night",
                condition=models.Q(deleted=False),
            )
        ]


class ServedCode(models.Model):
    """A code the feeds have published: an airport a flight leaves from or flies to, a carrier
    that operates one, a city a hotel is in. The chat recognises places and flight numbers by
    these; the rows only ever grow (a place with no flight this week is still one we serve)."""

    class Kind(models.TextChoices):
        AIRPORT = "airport"
        CARRIER = "carrier"
        HOTEL_CITY = "hotel_city"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    code = models.CharField(max_length=8)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "code"], name="served_kind_code")]

    def __str__(self) -> str:
        return f"{self.kind} {self.code}"
