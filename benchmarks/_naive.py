"""The baseline: a naive per-event ORM handler, as one would first write it with Django.

Per event: read the stored version, compare in Python, then `update_or_create` (which itself
locks the row with SELECT ... FOR UPDATE and then UPDATEs or INSERTs, inside a savepoint). The
runtime still wraps each batch in one transaction, so only the handler differs from the
set-based one. Import only after `_stack.setup()`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import msgspec
from django.db import models
from django.utils import timezone

from inventory.models import Fare, Flight, Hotel, HotelRate
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.registry import BatchResult, Handler, StreamSpec
from travelbot.streams.upsert import ms_to_datetime

Fields = Callable[[dict[str, Any]], dict[str, Any]]


def _flight(row: dict[str, Any]) -> dict[str, Any]:
    seats = row["seats_available"]
    return {
        "carrier": row["carrier"],
        "flight_number": row["flight_number"],
        "origin": row["origin"],
        "destination": row["destination"],
        "departure_at": row["departure_at"],
        "arrival_at": row["arrival_at"],
        "status": row["status"],
        "gate": row["gate"],
        "seats_economy": seats["economy"],
        "seats_premium": seats["premium"],
        "seats_business": seats["business"],
    }


def _fare(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: row[name]
        for name in (
            "flight_id",
            "cabin",
            "fare_class",
            "amount",
            "currency",
            "refundable",
            "change_fee",
            "baggage_kg",
        )
    }


def _hotel(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: row[name]
        for name in ("name", "city", "address", "stars", "amenities", "latitude", "longitude")
    }


def _rate(row: dict[str, Any]) -> dict[str, Any]:
    return {
        name: row[name]
        for name in (
            "hotel_id",
            "night",
            "room_type",
            "rooms_available",
            "amount",
            "currency",
            "refundable",
        )
    }


MODELS: dict[str, tuple[type[models.Model], Fields]] = {
    "inventory.flights": (Flight, _flight),
    "inventory.fares": (Fare, _fare),
    "inventory.hotels": (Hotel, _hotel),
    "inventory.hotel_rates": (HotelRate, _rate),
}


def naive_handler(model: type[models.Model], fields: Fields) -> Handler:
    manager = model.with_deleted  # type: ignore[attr-defined]
    data_fields = [
        f.name
        for f in model._meta.concrete_fields
        if not f.primary_key
        and f.name not in {"version", "as_of", "deleted", "applied_at", "source_system"}
    ]

    def handle(events: list[ChangeEvent]) -> BatchResult:
        applied = 0
        for event in events:
            stored = manager.filter(pk=event.key).values_list("version", flat=True).first()
            if stored is not None and stored >= event.lsn:
                continue  # a duplicate or a stale replay
            row = None if event.row is None else msgspec.to_builtins(event.row)
            values = dict.fromkeys(data_fields) if row is None else fields(row)
            values.update(
                version=event.lsn,
                as_of=ms_to_datetime(event.source_ts_ms),
                deleted=event.is_delete,
                applied_at=timezone.now(),
            )
            manager.update_or_create(pk=event.key, defaults=values)
            applied += 1
        return BatchResult(applied=applied)

    return handle


def naive_spec(spec: StreamSpec) -> StreamSpec:
    model, fields = MODELS[spec.contract_topic.split(".bench.")[0]]
    return replace(spec, handle=naive_handler(model, fields))
