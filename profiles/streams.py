"""Stream handlers of the three customer sources: screen, mirror, resolve identities.

Each batch, in its one transaction: events for erased people are dropped or held; the rest
are applied with the same version guard, delete memory and source-system ownership as
inventory; then the identities of the records that changed are re-resolved.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from profiles.identifiers import BOOKING, CRM, LOYALTY
from profiles.identity import identify, identities_resolve
from profiles.models import Booking, CrmCustomer, HeldEvent, LoyaltyMember
from profiles.privacy import events_screen, held_event_decode
from travelbot.streams import contract
from travelbot.streams.contract import BookingRow, CustomerRow, MemberRow
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.registry import BatchResult, cdc_stream
from travelbot.streams.upsert import VersionedTable, latest_per_key, versioned_upsert

CUSTOMERS = VersionedTable.for_model(CrmCustomer)
MEMBERS = VersionedTable.for_model(LoyaltyMember)
BOOKINGS = VersionedTable.for_model(Booking)


# Each row's values by column name: every data column of its model.
def _customer_values(row: CustomerRow) -> dict[str, Any]:
    return {
        "email": row.email,
        "phone": row.phone,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "home_airport": row.home_airport,
        "preferences": row.preferences,
        "marketing_opt_in": row.marketing_opt_in,
    }


def _member_values(row: MemberRow) -> dict[str, Any]:
    return {"email": row.email, "phone": row.phone, "tier": row.tier, "points": row.points}


def _booking_values(row: BookingRow) -> dict[str, Any]:
    return {
        "email": row.email,
        "phone": row.phone,
        "customer_id": row.customer_id,
        "member_id": row.member_id,
        "status": row.status,
        "items": msgspec.to_builtins(row.items),
        "total": Decimal(row.total),
        "currency": row.currency,
        "created_at": row.created_at,
    }


def _source_apply(
    source: str,
    table: VersionedTable,
    row_values: Callable[[Any], dict[str, Any]],
    events: list[ChangeEvent],
) -> BatchResult:
    identified = identify(source, events)
    identifiers = {key: change.identifiers for key, change in identified.items()}
    screened = events_screen(source=source, events=events, identified=identifiers)
    result = versioned_upsert(table=table, events=screened.kept, row_values=row_values)
    changed = [e for e in latest_per_key(screened.kept) if e.key in result.changed_keys]
    identities_resolve(changes=[identified[id(event)] for event in changed])
    return result


def customers_apply(events: list[ChangeEvent]) -> BatchResult:
    return _source_apply(CRM, CUSTOMERS, _customer_values, events)


def members_apply(events: list[ChangeEvent]) -> BatchResult:
    return _source_apply(LOYALTY, MEMBERS, _member_values, events)


def bookings_apply(events: list[ChangeEvent]) -> BatchResult:
    return _source_apply(BOOKING, BOOKINGS, _booking_values, events)


HANDLERS: dict[str, tuple[Callable[[list[ChangeEvent]], BatchResult], type]] = {
    CRM: (customers_apply, CustomerRow),
    LOYALTY: (members_apply, MemberRow),
    BOOKING: (bookings_apply, BookingRow),
}


def held_events_apply(held: list[HeldEvent]) -> None:
    """Apply events held back by a suppression that staff lifted (in their transaction)."""
    for source, (handle, row_type) in HANDLERS.items():
        events = [held_event_decode(h, row_type) for h in held if h.source == source]
        if events:
            handle(events)


STREAMS = [
    cdc_stream(topic=contract.CUSTOMERS, handle=customers_apply),
    cdc_stream(topic=contract.MEMBERS, handle=members_apply),
    cdc_stream(topic=contract.BOOKINGS, handle=bookings_apply),
]
