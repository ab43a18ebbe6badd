"""The right to be forgotten: erasure, suppressions by hashed identifier, held events.

An erasure deletes a person's source records, identifiers and everything other apps keep
about them (conversations...: each app's `ERASURE_HOOK`), and records a suppression for
each of their identifiers, hashed. Afterwards, an event carrying a suppressed identifier is
dropped if it happened before the erasure (a replay must not bring the person back) and held
if it happened after, until staff lift the suppression (the held events are then applied)
or discard them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import Q

from profiles.identifiers import (
    EMAIL,
    Identifier,
    identifier_hash,
    split_node_id,
)
from profiles.identity import RESOLUTION_LOCK
from profiles.models import (
    Booking,
    CrmCustomer,
    DataQualityFinding,
    EmailVerification,
    HeldEvent,
    IdentityNode,
    LoyaltyMember,
    Profile,
    ProfileLink,
    Suppression,
)
from profiles.models import Identifier as IdentifierRow
from travelbot.discovery import app_offers
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.upsert import ms_to_datetime

SOURCE_MODELS: dict[str, Any] = {"crm": CrmCustomer, "loyalty": LoyaltyMember, "booking": Booking}


@dataclass(frozen=True)
class Erasure:
    """What was erased: other apps' hooks erase what they keep about these people."""

    id: uuid.UUID
    profile_id: str
    user_ids: list[int]
    identifiers: list[Identifier]
    records: list[str]


@dataclass
class Screened:
    kept: list[ChangeEvent] = field(default_factory=list)
    held: int = 0
    dropped: int = 0


ErasureHook = Callable[[Erasure], int]


def erasure_hooks() -> list[ErasureHook]:
    """What erases the personal data other apps keep: the `ERASURE_HOOK` of their
    `privacy.py` (called in the erasure's transaction; returns how many rows it removed)."""
    return app_offers(module="privacy", attribute="ERASURE_HOOK")


def events_screen(
    *, source: str, events: list[ChangeEvent], identified: dict[int, set[Identifier]]
) -> Screened:
    """Drop or hold events that carry an erased person's identifier. `identified` maps each
    event (by id()) to its identifiers. One indexed query per batch while nobody is erased."""
    screened = Screened()
    if not Suppression.objects.filter(lifted_at=None).exists():
        screened.kept = events
        return screened
    hashes = {id(event): {identifier_hash(i) for i in identified[id(event)]} for event in events}
    wanted = set().union(*hashes.values()) if hashes else set()
    active = {
        row["value_hash"]: row
        for row in Suppression.objects.filter(lifted_at=None, value_hash__in=wanted).values(
            "value_hash", "created_at", "erasure"
        )
    }
    held: list[HeldEvent] = []
    for event in events:
        matches = [active[h] for h in hashes[id(event)] if h in active]
        if not matches:
            screened.kept.append(event)
            continue
        first = min(matches, key=lambda m: m["created_at"])
        if ms_to_datetime(event.source_ts_ms) < first["created_at"]:
            screened.dropped += 1
        else:
            held.append(_held(source, event, first["erasure"]))
    HeldEvent.objects.bulk_create(held)
    screened.held = len(held)
    return screened


def _held(source: str, event: ChangeEvent, erasure: uuid.UUID) -> HeldEvent:
    return HeldEvent(
        erasure=erasure,
        source=source,
        record_id=event.key,
        event={
            "op": event.op,
            "row": None if event.row is None else msgspec.to_builtins(event.row),
            "lsn": event.lsn,
            "source_ts_ms": event.source_ts_ms,
            "ts_ms": event.ts_ms,
            "system": event.system,
        },
    )


def held_event_decode(held: HeldEvent, row_type: type) -> ChangeEvent:
    data = held.event
    row = None if data["row"] is None else msgspec.convert(data["row"], row_type)
    return ChangeEvent(
        key=held.record_id,
        op=data["op"],
        row=row,
        lsn=data["lsn"],
        source_ts_ms=data["source_ts_ms"],
        ts_ms=data["ts_ms"],
        system=data["system"],
    )


@transaction.atomic
def profile_erase(*, profile_id: str, by: User | AnonymousUser | None = None) -> Erasure | None:
    """Erase a person and suppress their identifiers. None if there is no such profile."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESOLUTION_LOCK])
    nodes = list(
        IdentityNode.objects.filter(profile_id=profile_id).values_list("node_id", flat=True)
    )
    if not nodes:
        return None
    identifiers = sorted(
        {
            Identifier(kind, value)
            for kind, value in IdentifierRow.objects.filter(node_id__in=nodes).values_list(
                "kind", "value"
            )
        }
    )
    links = ProfileLink.objects.filter(
        _any_identifier(identifiers, kind_field="kind", value_field="value")
    )
    erasure = Erasure(
        id=uuid.uuid4(),
        profile_id=profile_id,
        user_ids=list(links.values_list("user_id", flat=True)),
        identifiers=identifiers,
        records=nodes,
    )
    creator = by if isinstance(by, User) else None
    Suppression.objects.bulk_create(
        Suppression(
            kind=i.kind, value_hash=identifier_hash(i), created_by=creator, erasure=erasure.id
        )
        for i in identifiers
    )
    for hook in erasure_hooks():
        hook(erasure)
    links.delete()
    emails = [i.value for i in identifiers if i.kind == EMAIL]
    EmailVerification.objects.filter(email__in=emails).delete()
    for node in nodes:
        source, record_id = split_node_id(node)
        SOURCE_MODELS[source].with_deleted.filter(pk=record_id).delete()
    IdentifierRow.objects.filter(node_id__in=nodes).delete()
    DataQualityFinding.objects.filter(node_id__in=nodes).delete()
    IdentityNode.objects.filter(node_id__in=nodes).delete()
    Profile.objects.filter(profile_id=profile_id).delete()
    return erasure


def _any_identifier(identifiers: list[Identifier], *, kind_field: str, value_field: str) -> Q:
    query = Q(pk__in=[])
    for identifier in identifiers:
        query |= Q(**{kind_field: identifier.kind, value_field: identifier.value})
    return query
