"""JSON shapes of the unified profile (staff API, and the chat's context later)."""

from __future__ import annotations

from typing import Any

from profiles.selectors import Sourced, SourceRecord, Trip, TripItem, UnifiedProfile
from travelbot.timefmt import iso_z

BOOKKEEPING = {"version", "as_of", "deleted", "applied_at", "source_system"}


def sourced_json(value: Sourced | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "value": value.value,
        "source": value.source,
        "id": value.id,
        "as_of": iso_z(value.as_of),
    }


def record_json(record: SourceRecord) -> dict[str, Any]:
    data = {k: v for k, v in record.data.items() if k not in BOOKKEEPING}
    return {
        "source": record.source,
        "id": record.id,
        "version": record.version,
        "as_of": iso_z(record.as_of),
        "data": data,
    }


def item_json(item: TripItem) -> dict[str, Any]:
    detail = {
        key: iso_z(value) if hasattr(value, "tzinfo") and value is not None else value
        for key, value in item.detail.items()
    }
    return {
        "type": item.kind,
        "id": item.ref,
        "starts": _moment(item.starts),
        "ends": _moment(item.ends),
        "live": item.live,
        **detail,
    }


def trip_json(trip: Trip) -> dict[str, Any]:
    return {
        "booking_ref": trip.booking_ref,
        "status": trip.status,
        "total": trip.total,
        "currency": trip.currency,
        "created_at": iso_z(trip.created_at),
        "version": trip.version,
        "as_of": iso_z(trip.as_of),
        "items": [item_json(item) for item in trip.items],
    }


def profile_json(profile: UnifiedProfile, *, for_staff: bool = False) -> dict[str, Any]:
    loyalty = profile.loyalty
    body: dict[str, Any] = {
        "profile_id": profile.profile_id,
        "name": sourced_json(profile.name),
        "email": sourced_json(profile.email),
        "phone": sourced_json(profile.phone),
        "home_airport": sourced_json(profile.home_airport),
        "preferences": {k: sourced_json(v) for k, v in profile.preferences.items()},
        "loyalty": None
        if loyalty is None
        else {
            "member_id": loyalty.id,
            "tier": loyalty.data.get("tier"),
            "points": loyalty.data.get("points"),
            "version": loyalty.version,
            "as_of": iso_z(loyalty.as_of),
        },
        "upcoming_trips": [trip_json(t) for t in profile.upcoming],
        "past_trips": [trip_json(t) for t in profile.past],
        "cancelled_bookings": [trip_json(t) for t in profile.cancelled],
        "records": [record_json(r) for r in profile.records],
        "explanation": profile.explanation,
    }
    if for_staff:
        body["conflicts"] = {
            name: [sourced_json(v) for v in values] for name, values in profile.conflicts.items()
        }
        body["data_quality"] = [
            {"record": f.node_id, "field": f.field, "value": f.value, "problem": f.problem}
            for f in profile.findings
        ]
    return body


def _moment(value: Any) -> str | None:
    if value is None:
        return None
    return iso_z(value) if hasattr(value, "tzinfo") else value.isoformat()
