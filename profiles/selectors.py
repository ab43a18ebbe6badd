"""Reads of the unified profile: what a chat turn needs, in a fixed handful of queries.

Conflicts between sources follow one stated rule: per field, the most recently changed
record wins, CRM preferred on ties; the losing values stay in `conflicts` for staff.
Upcoming trips are confirmed bookings with an item still ahead, joined to the live flight
status and gate and the hotel from inventory.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Max, Min, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone
from psycopg.rows import class_row, dict_row

from inventory.models import Flight, Hotel
from profiles.identifiers import (
    ACCOUNTS,
    BOOKING,
    CRM,
    EMAIL,
    LOYALTY,
    PHONE,
    Identifier,
    normalize_email,
    normalize_phone,
)
from profiles.models import CrmCustomer, DataQualityFinding, HeldEvent, IdentityNode, Suppression
from profiles.models import Identifier as IdentifierRow
from profiles.rules import anchor_order
from profiles.rules import label as _label
from travelbot.money import money_text
from travelbot.sql import fetch_all

# Every live record of a profile with its identifiers; {profile} is either a parameter or
# the subquery that finds the signed-in traveller's profile, so a chat turn needs one trip.
RECORDS_SQL = """
WITH wanted AS (SELECT {profile} AS profile_id),
nodes AS (
  SELECT n.node_id, n.source, n.record_id, n.profile_id, n.joined_by,
         (SELECT json_agg(json_build_array(i.kind, i.value)) FROM profiles_identifier i
           WHERE i.node_id = n.node_id)::text AS identifiers
    FROM profiles_identitynode n WHERE n.profile_id = (SELECT profile_id FROM wanted)
)
SELECT n.profile_id, 'crm' AS source, c.customer_id AS record_id, c.version, c.as_of,
       row_to_json(c)::text AS data, n.identifiers, n.joined_by
  FROM nodes n JOIN profiles_crmcustomer c ON c.customer_id = n.record_id
 WHERE n.source = 'crm' AND NOT c.deleted
UNION ALL
SELECT n.profile_id, 'loyalty', m.member_id, m.version, m.as_of, row_to_json(m)::text,
       n.identifiers, n.joined_by
  FROM nodes n JOIN profiles_loyaltymember m ON m.member_id = n.record_id
 WHERE n.source = 'loyalty' AND NOT m.deleted
UNION ALL
SELECT n.profile_id, 'booking', b.booking_ref, b.version, b.as_of, row_to_json(b)::text,
       n.identifiers, n.joined_by
  FROM nodes n JOIN profiles_booking b ON b.booking_ref = n.record_id
 WHERE n.source = 'booking' AND NOT b.deleted
"""
BY_ID = RECORDS_SQL.format(profile="%(profile)s")
# What a traveller sees is what they proved (contract identity rule 4): the person whose own
# account holds the linked email or member id, never a booking that merely carries it, and
# nobody when that email is the own email of several people (a hub).
BY_USER = RECORDS_SQL.format(
    profile="(SELECT min(n.profile_id) FROM profiles_profilelink l "
    "JOIN profiles_identifier i ON i.kind = l.kind AND i.value = l.value "
    "JOIN profiles_identitynode n ON n.node_id = i.node_id "
    "WHERE l.user_id = %(user)s AND n.source IN ('crm', 'loyalty') "
    "HAVING count(DISTINCT n.profile_id) = 1)"
)
INVENTORY_SQL = """
SELECT 'flight' AS kind, flight_id AS key, row_to_json(f)::text AS data FROM inventory_flight f
 WHERE flight_id = ANY(%(flights)s) AND NOT deleted
UNION ALL
SELECT 'hotel', hotel_id, row_to_json(h)::text FROM inventory_hotel h
 WHERE hotel_id = ANY(%(hotels)s) AND NOT deleted
"""


@dataclass(frozen=True)
class SourceRecord:
    source: str
    id: str
    version: int
    as_of: datetime
    data: dict[str, Any]


@dataclass(frozen=True)
class Sourced:
    """A value and the record it came from."""

    value: Any
    source: str
    id: str
    as_of: datetime


@dataclass(frozen=True)
class TripItem:
    kind: str  # "flight" | "hotel"
    ref: str  # flight_id or hotel_id
    starts: datetime | date | None
    ends: datetime | date | None
    detail: dict[str, Any]  # live fields, with their record's version and as_of
    live: bool  # found in inventory


@dataclass(frozen=True)
class Trip:
    booking_ref: str
    status: str
    items: list[TripItem]
    total: str | None
    currency: str | None
    created_at: datetime | None
    version: int
    as_of: datetime


@dataclass
class UnifiedProfile:
    profile_id: str
    records: list[SourceRecord]
    name: Sourced | None = None
    email: Sourced | None = None
    phone: Sourced | None = None
    home_airport: Sourced | None = None
    preferences: dict[str, Sourced] = field(default_factory=dict)
    loyalty: SourceRecord | None = None
    upcoming: list[Trip] = field(default_factory=list)
    past: list[Trip] = field(default_factory=list)
    cancelled: list[Trip] = field(default_factory=list)
    conflicts: dict[str, list[Sourced]] = field(default_factory=dict)
    explanation: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    findings: list[DataQualityFinding] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return self.profile_id


def profile_for_user(
    *, user: AbstractBaseUser | AnonymousUser, now: datetime | None = None
) -> UnifiedProfile | None:
    """The signed-in traveller's own profile (two queries), or None when not linked."""
    if not user.is_authenticated:
        return None
    return _profile(_records(BY_USER, {"user": user.pk}), now=now)


def profile_get(
    *, profile_id: str, now: datetime | None = None, for_staff: bool = False
) -> UnifiedProfile | None:
    profile = _profile(_records(BY_ID, {"profile": profile_id}), now=now)
    if profile is not None and for_staff:
        nodes = [f"{r.source}:{r.id}" for r in profile.records]
        profile.findings = list(
            DataQualityFinding.objects.filter(node_id__in=nodes).order_by("node_id", "id")
        )
        profile.explanation += [
            f"refused: {_label(f.node_id)} {f.field.replace('_', ' ')} {f.value}: {f.problem}"
            for f in profile.findings
            if f.refused
        ]
    return profile


def _profile(rows: list[RecordRow], *, now: datetime | None) -> UnifiedProfile | None:
    if not rows:
        return None
    rows = sorted(rows, key=lambda row: _record_order(row.record))
    profile = UnifiedProfile(profile_id=rows[0].profile_id, records=[r.record for r in rows])
    _resolve_fields(profile)
    _fill_trips(profile, now or timezone.now())
    profile.identifiers = sorted({i for row in rows for i in row.identifiers})
    # Why each record is here: the rule that joined it, stored when it was resolved.
    profile.explanation = [row.joined_by for row in rows if row.joined_by]
    return profile


def _record_order(record: SourceRecord) -> tuple[int, str]:
    return anchor_order(f"{record.source}:{record.id}")


def profile_find(*, identifier: Identifier) -> str | None:
    """The id of the profile holding an identifier, if any."""
    return (
        IdentityNode.objects.filter(
            node_id__in=IdentifierRow.objects.filter(
                kind=identifier.kind, value=identifier.value
            ).values("node_id")
        )
        .order_by("profile_id")  # a shared phone is in several profiles: answer one, always
        .values_list("profile_id", flat=True)
        .first()
    )


def profiles_search(*, text: str, limit: int = 20) -> list[str]:
    """Profile ids whose identifiers contain `text`, or whose CRM name matches it."""
    term = text.strip()
    if not term:
        return []
    by_identifier = IdentifierRow.objects.filter(value__icontains=term.lower()).values("node_id")
    named = (
        CrmCustomer.objects.annotate(full=Concat("first_name", Value(" "), "last_name"))
        .filter(full__icontains=term)
        .values_list("customer_id", flat=True)[:200]
    )
    nodes = IdentityNode.objects.filter(
        Q(node_id__in=by_identifier[:200]) | Q(source=CRM, record_id__in=list(named))
    )
    return sorted(set(nodes.values_list("profile_id", flat=True)))[:limit]


@dataclass(frozen=True)
class _RecordRow:
    """A row of RECORDS_SQL: one live source record of the profile, as JSON texts."""

    profile_id: str
    source: str
    record_id: str
    version: int
    as_of: datetime
    data: str
    identifiers: str | None
    joined_by: str


@dataclass(frozen=True)
class RecordRow:
    profile_id: str
    record: SourceRecord
    identifiers: list[Identifier]
    joined_by: str


def _records(sql: str, params: dict[str, Any]) -> list[RecordRow]:
    return [
        RecordRow(
            row.profile_id,
            SourceRecord(
                source=row.source,
                id=row.record_id,
                version=row.version,
                as_of=row.as_of,
                data=json.loads(row.data),
            ),
            [Identifier(kind, value) for kind, value in json.loads(row.identifiers or "[]")],
            row.joined_by,
        )
        for row in fetch_all(sql, params, row=class_row(_RecordRow))
    ]


def _winner(candidates: list[Sourced]) -> Sourced | None:
    """Most recently changed wins; on a tie, CRM first."""
    if not candidates:
        return None
    return max(candidates, key=lambda c: (c.as_of, c.source == CRM))


def _candidates(profile: UnifiedProfile, name: str, normalize: Any = None) -> list[Sourced]:
    """The values of `name` in the person's own accounts; in their bookings only when they
    have no account. A booking's contact email or phone is weak (the agent's, the family's,
    whoever booked), so it never stands in for what the person's own account says."""
    accounts = [r for r in profile.records if r.source in ACCOUNTS]
    found = []
    for record in accounts or profile.records:
        raw = record.data.get(name)
        if raw in (None, ""):
            continue
        value = normalize(raw) if normalize else raw
        if value is not None:
            found.append(Sourced(value, record.source, record.id, record.as_of))
    return found


def _pick(profile: UnifiedProfile, name: str, candidates: list[Sourced]) -> Sourced | None:
    winner = _winner(candidates)
    if winner is not None:
        losers = {c.value: c for c in candidates if c.value != winner.value}
        if losers:
            profile.conflicts[name] = sorted(losers.values(), key=lambda c: c.as_of, reverse=True)
    return winner


def _resolve_fields(profile: UnifiedProfile) -> None:
    crm = [r for r in profile.records if r.source == CRM]
    names = [
        Sourced(
            " ".join(p for p in (r.data.get("first_name"), r.data.get("last_name")) if p),
            r.source,
            r.id,
            r.as_of,
        )
        for r in crm
        if r.data.get("first_name") or r.data.get("last_name")
    ]
    profile.name = _pick(profile, "name", names)
    profile.email = _pick(profile, EMAIL, _candidates(profile, EMAIL, normalize_email))
    profile.phone = _pick(profile, PHONE, _candidates(profile, PHONE, normalize_phone))
    profile.home_airport = _pick(profile, "home_airport", _candidates(profile, "home_airport"))
    for record in sorted(crm, key=lambda r: r.as_of):  # the newest record's preference wins
        for key, value in (record.data.get("preferences") or {}).items():
            profile.preferences[key] = Sourced(value, record.source, record.id, record.as_of)
    members = [r for r in profile.records if r.source == LOYALTY]
    if members:
        profile.loyalty = max(members, key=lambda r: r.as_of)
        others = [
            Sourced(
                f"{m.data.get('tier')} ({m.data.get('points')} points)", m.source, m.id, m.as_of
            )
            for m in members
            if m is not profile.loyalty
        ]
        if others:
            profile.conflicts["loyalty"] = others


def _fill_trips(profile: UnifiedProfile, now: datetime) -> None:
    bookings = [r for r in profile.records if r.source == BOOKING]
    items = [item for b in bookings for item in (b.data.get("items") or [])]
    flights, hotels = _live_inventory(
        flights=[i["flight_id"] for i in items if i.get("type") == "flight"],
        hotels=[i["hotel_id"] for i in items if i.get("type") == "hotel"],
    )
    for booking in sorted(bookings, key=lambda b: b.data.get("created_at") or "", reverse=True):
        trip = _trip(booking, flights, hotels)
        if trip.status == "cancelled":
            profile.cancelled.append(trip)
        elif trip.status == "confirmed" and any(_ahead(item, now) for item in trip.items):
            profile.upcoming.append(trip)
        else:
            profile.past.append(trip)
    profile.upcoming.sort(key=lambda t: _first_start(t, now))


def _live_inventory(
    *, flights: list[str], hotels: list[str]
) -> tuple[dict[str, Flight], dict[str, Hotel]]:
    """The bookings' flights and hotels as they are now, in one query."""
    if not flights and not hotels:
        return {}, {}
    rows = fetch_all(INVENTORY_SQL, {"flights": flights, "hotels": hotels}, row=dict_row)
    found_flights, found_hotels = {}, {}
    for row in rows:
        if row["kind"] == "flight":
            found_flights[row["key"]] = _model_from_json(Flight, row["data"])
        else:
            found_hotels[row["key"]] = _model_from_json(Hotel, row["data"])
    return found_flights, found_hotels


def _model_from_json(model: type[Any], data: str) -> Any:
    """A model instance from row_to_json, converting values as the database would."""
    values = json.loads(data)
    return model(
        **{
            field.attname: field.to_python(values.get(field.column))
            for field in model._meta.concrete_fields
        }
    )


def _trip(booking: SourceRecord, flights: dict[Any, Flight], hotels: dict[Any, Hotel]) -> Trip:
    data = booking.data
    items = [
        _flight_item(i, flights.get(i["flight_id"]))
        if i.get("type") == "flight"
        else _hotel_item(i, hotels.get(i["hotel_id"]))
        for i in data.get("items") or []
    ]
    total = data.get("total")
    return Trip(
        booking_ref=booking.id,
        status=data.get("status") or "",
        items=items,
        total=None if total is None else _money(total),
        currency=data.get("currency"),
        created_at=_parse_dt(data.get("created_at")),
        version=booking.version,
        as_of=booking.as_of,
    )


def _flight_item(item: dict[str, Any], flight: Flight | None) -> TripItem:
    detail: dict[str, Any] = {"cabin": item.get("cabin"), "passengers": item.get("passengers")}
    if flight is not None:
        detail.update(
            flight_number=flight.flight_number,
            origin=flight.origin,
            destination=flight.destination,
            departure_at=flight.departure_at,
            arrival_at=flight.arrival_at,
            status=flight.status,
            gate=flight.gate,
            version=flight.version,
            as_of=flight.as_of,
        )
    return TripItem(
        kind="flight",
        ref=item["flight_id"],
        starts=flight.departure_at if flight else None,
        ends=flight.arrival_at if flight else None,
        detail=detail,
        live=flight is not None,
    )


def _hotel_item(item: dict[str, Any], hotel: Hotel | None) -> TripItem:
    check_in, check_out = _parse_day(item.get("check_in")), _parse_day(item.get("check_out"))
    detail: dict[str, Any] = {"room_type": item.get("room_type")}
    if hotel is not None:
        detail.update(
            name=hotel.name,
            city=hotel.city,
            address=hotel.address,
            version=hotel.version,
            as_of=hotel.as_of,
        )
    return TripItem(
        kind="hotel",
        ref=item["hotel_id"],
        starts=check_in,
        ends=check_out,
        detail=detail,
        live=hotel is not None,
    )


def _ahead(item: TripItem, now: datetime) -> bool:
    end = item.ends or item.starts
    if end is None:
        return True  # a flight we know nothing of yet: keep the trip in view
    if isinstance(end, datetime):
        return end >= now
    return end >= now.date()


def _first_start(trip: Trip, now: datetime) -> datetime:
    starts = [_as_datetime(i.starts) for i in trip.items if i.starts is not None]
    return min(starts, default=now)


def _as_datetime(moment: datetime | date) -> datetime:
    if isinstance(moment, datetime):
        return moment
    return datetime(moment.year, moment.month, moment.day, tzinfo=timezone.get_current_timezone())


def _money(value: Any) -> str:
    return money_text(Decimal(str(value))) or ""


def _parse_dt(value: Any) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(str(value))


def _parse_day(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


@dataclass(frozen=True)
class ErasureSummary:
    erasure: uuid.UUID
    created_at: datetime
    identifiers: int
    held: int
    lifted_at: datetime | None


def erasures_list() -> list[ErasureSummary]:
    rows = (
        Suppression.objects.values("erasure")
        .annotate(created=Min("created_at"), identifiers=Count("id"), lifted=Max("lifted_at"))
        .order_by("-created")
    )
    held = dict(
        HeldEvent.objects.values("erasure").annotate(n=Count("id")).values_list("erasure", "n")
    )
    return [
        ErasureSummary(
            erasure=row["erasure"],
            created_at=row["created"],
            identifiers=row["identifiers"],
            held=held.get(row["erasure"], 0),
            lifted_at=row["lifted"],
        )
        for row in rows
    ]
