"""The wire contract (../shared/contracts/streams.md) as typed structs: one declaration per topic.

The same types decode and validate every record in one call (msgspec), describe what the
simulator and our own producers publish, and generate the JSON Schema published in
`docs/streams.schema.json`. Fields the contract may add later are ignored when decoding
(changes to the contract are additive only).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Annotated, Any, Generic, Literal, TypeVar, get_args

import msgspec
from msgspec import Meta, Struct

MAX_LSN = 2**63 - 1
MAX_MS = 10**15  # year 33658: rejects seconds or microseconds sent as milliseconds' overflow

Cabin = Literal["economy", "premium", "business"]
FlightStatus = Literal["scheduled", "delayed", "boarding", "departed", "arrived", "cancelled"]
RoomType = Literal["single", "double", "suite"]
Tier = Literal["blue", "silver", "gold", "platinum"]
BookingStatus = Literal["confirmed", "cancelled", "completed"]
TurnStatus = Literal["answered", "stopped", "failed"]
# The same values as tuples, for forms, queries and loops.
CABINS: tuple[Cabin, ...] = get_args(Cabin)
FLIGHT_STATUSES: tuple[FlightStatus, ...] = get_args(FlightStatus)
ROOM_TYPES: tuple[RoomType, ...] = get_args(RoomType)
LOYALTY_TIERS: tuple[Tier, ...] = get_args(Tier)
BOOKING_STATUSES: tuple[BookingStatus, ...] = get_args(BookingStatus)
TURN_STATUSES: tuple[TurnStatus, ...] = get_args(TurnStatus)
SupportEventType = Literal["requested", "claimed", "agent_message", "handed_back", "resolved"]
HandoffReason = Literal[
    "traveller_asked", "model_handoff", "guardrail", "repeated_not_helpful", "booking_failed"
]


def _text(max_length: int) -> Any:
    """A non-empty string of at most `max_length` characters (for runtime-built types)."""
    return Annotated[str, Meta(min_length=1, max_length=max_length)]


Text2 = Annotated[str, Meta(min_length=1, max_length=2)]
Text3 = Annotated[str, Meta(min_length=1, max_length=3)]
Text8 = Annotated[str, Meta(min_length=1, max_length=8)]
Text16 = Annotated[str, Meta(min_length=1, max_length=16)]
Text50 = Annotated[str, Meta(min_length=1, max_length=50)]
Text64 = Annotated[str, Meta(min_length=1, max_length=64)]
Text96 = Annotated[str, Meta(min_length=1, max_length=96)]
Text100 = Annotated[str, Meta(min_length=1, max_length=100)]
Text200 = Annotated[str, Meta(min_length=1, max_length=200)]
Text300 = Annotated[str, Meta(min_length=1, max_length=300)]
Iata = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="an IATA airport or city code")]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$", description="an ISO 4217 code")]
# A non-negative decimal string, stored exactly as sent: up to 12 digits and 4 decimals.
Money = Annotated[
    str,
    Meta(pattern=r"^\d{1,12}(\.\d{1,4})?$", description='a decimal string such as "412.00"'),
]
# Aware timestamps only; the contract sends UTC with a Z suffix.
Timestamp = Annotated[datetime, Meta(tz=True)]
Count = Annotated[int, Meta(ge=0, le=100_000)]
Email = Annotated[str, Meta(max_length=320)]
Phone = Annotated[str, Meta(max_length=64)]
Preference = Annotated[str, Meta(max_length=200)]


# --- inventory -----------------------------------------------------------------------------


class Seats(Struct, frozen=True):
    economy: Annotated[int, Meta(ge=0, le=1000)]
    premium: Annotated[int, Meta(ge=0, le=1000)]
    business: Annotated[int, Meta(ge=0, le=1000)]


class FlightRow(Struct, frozen=True):
    flight_id: Text64
    carrier: Text3
    flight_number: Text8
    origin: Iata
    destination: Iata
    departure_at: Timestamp
    arrival_at: Timestamp
    status: FlightStatus
    seats_available: Seats
    gate: Text8 | None = None


class FareRow(Struct, frozen=True):
    fare_id: Text96
    flight_id: Text64
    cabin: Cabin
    fare_class: Text2
    amount: Money
    currency: Currency
    refundable: bool
    baggage_kg: Annotated[int, Meta(ge=0, le=100)]
    change_fee: Money | None = None


class HotelRow(Struct, frozen=True):
    hotel_id: Text64
    name: Text200
    city: Iata
    address: Text300
    stars: Annotated[int, Meta(ge=0, le=5)]
    amenities: Annotated[list[Text100], Meta(max_length=50)]
    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]


class HotelRateRow(Struct, frozen=True):
    rate_id: Text96
    hotel_id: Text64
    night: date
    room_type: RoomType
    rooms_available: Annotated[int, Meta(ge=0, le=10_000)]
    amount: Money
    currency: Currency
    refundable: bool


# --- customer sources ----------------------------------------------------------------------
# Emails and phones are free text here: a value that cannot be normalised is a data-quality
# finding for staff, not a reason to lose the customer.


class CustomerRow(Struct, frozen=True):
    customer_id: Text64
    email: Email | None = None
    phone: Phone | None = None
    first_name: Annotated[str, Meta(max_length=100)] | None = None
    last_name: Annotated[str, Meta(max_length=100)] | None = None
    home_airport: Iata | None = None
    preferences: Annotated[dict[Text50, Preference], Meta(max_length=50)] = {}
    marketing_opt_in: bool = False


class MemberRow(Struct, frozen=True):
    member_id: Text64
    tier: Tier
    points: Annotated[int, Meta(ge=0, le=10**12)]
    email: Email | None = None
    phone: Phone | None = None


class FlightItem(Struct, frozen=True, tag="flight", tag_field="type"):
    flight_id: Text64
    cabin: Cabin
    passengers: Annotated[int, Meta(ge=1, le=9)]


class HotelItem(Struct, frozen=True, tag="hotel", tag_field="type"):
    hotel_id: Text64
    check_in: date
    check_out: date
    room_type: RoomType


class BookingRow(Struct, frozen=True):
    booking_ref: Text16
    status: BookingStatus
    items: Annotated[list[FlightItem | HotelItem], Meta(max_length=20)]
    total: Money
    currency: Currency
    created_at: Timestamp
    email: Email | None = None
    phone: Phone | None = None
    customer_id: Text64 | None = None
    member_id: Text64 | None = None


# --- knowledge -----------------------------------------------------------------------------


class DocumentRow(Struct, frozen=True):
    doc_id: Annotated[str, Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
    title: Text200
    body: Annotated[str, Meta(max_length=200_000)]
    updated_at: Timestamp
    tags: Annotated[list[Text50], Meta(max_length=30)] = []
    effective_from: date | None = None
    effective_to: date | None = None


# --- the change envelope -------------------------------------------------------------------

R = TypeVar("R")


class Source(Struct, frozen=True):
    system: Text64
    lsn: Annotated[int, Meta(ge=0, le=MAX_LSN)]
    ts_ms: Annotated[int, Meta(ge=0, le=MAX_MS)]
    table: Text64 | None = None


class Change(Struct, Generic[R], frozen=True):
    """A Debezium / DMS style change: `after` is the row, null for a delete."""

    op: Literal["c", "u", "d", "r"]
    source: Source
    after: R | None = None
    # Replicators keep the old row for audits; it is skipped unparsed (never read here).
    before: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))
    ts_ms: Annotated[int, Meta(ge=0, le=MAX_MS)] | None = None


# --- plain events --------------------------------------------------------------------------


class ConversationKey(Struct, frozen=True):
    conversation_id: Text64


class FeedbackEvent(Struct, frozen=True):
    event_id: Text64
    conversation_id: Text64
    turn_id: Text64
    user_id: Text64
    rating: Literal[1, -1]
    occurred_at: Timestamp
    comment: Annotated[str, Meta(max_length=4000)] | None = None


class TurnTimings(Struct, frozen=True):
    context: Annotated[int, Meta(ge=0)] | None = None
    first_token: Annotated[int, Meta(ge=0)] | None = None
    total: Annotated[int, Meta(ge=0)] | None = None


class TurnTokens(Struct, frozen=True):
    prompt: Annotated[int, Meta(ge=0)] = 0
    completion: Annotated[int, Meta(ge=0)] = 0


class ProfileRecordRef(Struct, frozen=True):
    source: Literal["crm", "loyalty", "booking"]
    id: Text96
    version: Annotated[int, Meta(ge=0, le=MAX_LSN)]


class InventoryRef(Struct, frozen=True):
    kind: Literal["flight", "fare", "hotel", "hotel_rate"]
    id: Text96
    version: Annotated[int, Meta(ge=0, le=MAX_LSN)]


class DocumentRef(Struct, frozen=True):
    doc_id: Text200
    version: Annotated[int, Meta(ge=0, le=MAX_LSN)]
    chunk_ids: list[Text200] = []


class Provenance(Struct, frozen=True):
    profile_records: list[ProfileRecordRef] = []
    inventory: list[InventoryRef] = []
    documents: list[DocumentRef] = []
    ungrounded_numbers: list[Annotated[str, Meta(max_length=100)]] = []


class ChatTurnEvent(Struct, frozen=True):
    event_id: Text64
    conversation_id: Text64
    turn_id: Text64
    user_id: Text64
    occurred_at: Timestamp
    status: TurnStatus
    question: Annotated[str, Meta(max_length=20_000)]
    answer: Annotated[str, Meta(max_length=100_000)]
    model: Annotated[str, Meta(max_length=200)]
    timings_ms: TurnTimings = TurnTimings()
    tokens: TurnTokens = TurnTokens()
    provenance: Provenance = Provenance()


class SupportEvent(Struct, frozen=True):
    """One step of a handoff to a person; the message text stays in the conversation."""

    event_id: Text64
    conversation_id: Text64
    user_id: Text64
    type: SupportEventType
    occurred_at: Timestamp
    reason: HandoffReason | None = None
    agent_id: Text64 | None = None


# --- topics --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CdcTopic:
    """A change-data-capture topic: its key field and the row its envelope carries."""

    name: str
    key_field: str
    row: type[Struct]
    key_max_length: int

    @cached_property
    def key_type(self) -> type[Struct]:
        return msgspec.defstruct(
            f"{self.row.__name__.removesuffix('Row')}Key",
            [(self.key_field, _text(self.key_max_length))],
            frozen=True,
        )

    @cached_property
    def value_type(self) -> Any:
        return Change[self.row]  # type: ignore[name-defined]

    @cached_property
    def key_decoder(self) -> msgspec.json.Decoder[Any]:
        return msgspec.json.Decoder(self.key_type)

    @cached_property
    def value_decoder(self) -> msgspec.json.Decoder[Any]:
        return msgspec.json.Decoder(self.value_type)


@dataclass(frozen=True)
class EventTopic:
    """A plain event topic (not CDC), keyed by conversation."""

    name: str
    event: type[Struct]
    key_type: type[Struct] = ConversationKey

    @cached_property
    def key_decoder(self) -> msgspec.json.Decoder[Any]:
        return msgspec.json.Decoder(self.key_type)

    @cached_property
    def value_decoder(self) -> msgspec.json.Decoder[Any]:
        return msgspec.json.Decoder(self.event)


FLIGHTS = CdcTopic("inventory.flights", "flight_id", FlightRow, 64)
FARES = CdcTopic("inventory.fares", "fare_id", FareRow, 96)
HOTELS = CdcTopic("inventory.hotels", "hotel_id", HotelRow, 64)
HOTEL_RATES = CdcTopic("inventory.hotel_rates", "rate_id", HotelRateRow, 96)
CUSTOMERS = CdcTopic("crm.customers", "customer_id", CustomerRow, 64)
MEMBERS = CdcTopic("loyalty.members", "member_id", MemberRow, 64)
BOOKINGS = CdcTopic("bookings.reservations", "booking_ref", BookingRow, 16)
DOCUMENTS = CdcTopic("knowledge.documents", "doc_id", DocumentRow, 100)
FEEDBACK = EventTopic("feedback.events", FeedbackEvent)
CHAT_TURNS = EventTopic("chat.turns", ChatTurnEvent)
SUPPORT = EventTopic("support.events", SupportEvent)

CDC_TOPICS: tuple[CdcTopic, ...] = (
    FLIGHTS,
    FARES,
    HOTELS,
    HOTEL_RATES,
    CUSTOMERS,
    MEMBERS,
    BOOKINGS,
    DOCUMENTS,
)
EVENT_TOPICS: tuple[EventTopic, ...] = (FEEDBACK, CHAT_TURNS, SUPPORT)
TOPICS: dict[str, CdcTopic | EventTopic] = {
    **{t.name: t for t in CDC_TOPICS},
    **{t.name: t for t in EVENT_TOPICS},
}


def json_schema() -> dict[str, Any]:
    """The contract as JSON Schema: per topic, the key and the value, with shared definitions."""
    topics = list(TOPICS.values())
    types: list[Any] = []
    for topic in topics:
        if isinstance(topic, CdcTopic):
            types += [topic.key_type, topic.value_type, topic.row]
        else:
            types += [topic.key_type, topic.event]
    refs, definitions = msgspec.json.schema_components(types, ref_template="#/$defs/{name}")
    per_topic: dict[str, Any] = {}
    cursor = 0
    for topic in topics:
        if isinstance(topic, CdcTopic):
            key, value, row = refs[cursor : cursor + 3]
            per_topic[topic.name] = {"key": key, "value": value, "row": row}
            cursor += 3
        else:
            key, value = refs[cursor : cursor + 2]
            per_topic[topic.name] = {"key": key, "value": value}
            cursor += 2
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "travelbot stream contract, version 1",
        "description": (
            "Keys and values of every topic in ../shared/contracts/streams.md. Generated from "
            "travelbot/streams/contract.py by `manage.py contract_schema`; do not edit."
        ),
        "topics": per_topic,
        "$defs": definitions,
    }
