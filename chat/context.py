"""The context of one chat turn, assembled before the model is called.

Everything a correct answer needs is looked up here, deterministically: the asking
traveller's own profile (nothing when they are not linked), the live inventory the question
names (its route and date, flight numbers, hotels at the destination) and their upcoming
trips, the policy chunks in force on the travel date, and the conversation so far within a
budget. Every live fact carries its record's version and `as_of`; the cards beside an answer
and the grounding check are built from these facts, not from the model's text.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.utils import timezone

from chat.entities import Entities, gazetteer, recognise
from chat.models import Conversation, Turn
from inventory.models import Fare
from inventory.selectors import FlightOffer, HotelOffer, flights_matching, hotels_search
from knowledge.selectors import SearchResult, chunks_search
from places.selectors import airport_time, airport_zone
from profiles.selectors import Trip, UnifiedProfile, profile_for_user
from travelbot.timefmt import arrival_text, clock_times, iso_z, local_day_and_clock

# Conversation history kept in the prompt, in tokens, estimated as characters / 4 (English
# text averages about 4 characters per token with the Qwen and OpenAI tokenizers).
HISTORY_TOKEN_BUDGET = 900
CHARS_PER_TOKEN = 4
# The prompt stays compact: on two CPU cores a local model reads about 75 tokens a second,
# so every policy chunk (about 130 tokens) or fact line (about 40) costs the traveller time.
POLICY_CHUNKS = 4
POLICY_CHUNKS_BESIDE_LIVE_DATA = 2  # a question about flights or hotels is mostly about them
ROUTE_FLIGHTS = 4
NUMBERED_FLIGHTS = 2  # a flight number without a date: its next two departures
HOTELS = 3
UPCOMING_TRIPS = 3
DEFAULT_NIGHTS = 2
# Without a date, a route question means the next few days.
ROUTE_WINDOW = timedelta(days=3)
# A date's departures from an airport whose zone is not known yet (a flight number alone):
# the hours that day covers somewhere on Earth, from UTC+14 to UTC-12.
EARLIEST_OFFSET, LATEST_OFFSET = timedelta(hours=14), timedelta(hours=12)


@dataclass(frozen=True)
class Fact:
    """One live record as the turn saw it: a card beside the answer, a line in the prompt."""

    kind: str  # flight | fare | hotel | hotel_rate | booking | profile
    id: str
    title: str
    url: str
    version: int
    as_of: datetime
    lines: tuple[str, ...]
    numbers: tuple[str, ...] = ()  # prices, times and flight numbers an answer may quote
    card: bool = True  # shown beside the answer (a fare is shown on its flight's card)
    card_lines: tuple[str, ...] = ()  # more lines on the card only

    def json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "card": self.card,
            "id": self.id,
            "title": self.title,
            "url": self.url,
            "version": self.version,
            "as_of": iso_z(self.as_of),
            "lines": [*self.lines, *self.card_lines],
        }


@dataclass
class TurnContext:
    now: datetime
    user_id: int
    profile: UnifiedProfile | None
    entities: Entities
    zone: tzinfo = UTC  # the traveller's: what "today" and "tomorrow" mean to them
    facts: list[Fact] = field(default_factory=list)
    chunks: list[SearchResult] = field(default_factory=list)
    history: list[dict[str, str]] = field(default_factory=list)
    context_ms: float = 0.0
    carriers: frozenset[str] = frozenset()  # the airlines the feeds carry, for grounding

    @property
    def linked(self) -> bool:
        return self.profile is not None

    @property
    def clarification(self) -> str | None:
        """The question back when a name stands for several places we serve: the answer
        depends on which, so no model guesses it."""
        if not self.entities.ambiguous:
            return None
        name, places = self.entities.ambiguous[0]
        labels = [place.label for place in places]
        choices = ", ".join(labels[:-1]) + f" or {labels[-1]}"
        return f"Which {name.strip()} do you mean: {choices}?"

    @property
    def today(self) -> date:
        """The traveller's date, on their own clock."""
        return self.now.astimezone(self.zone).date()

    def add(self, facts: list[Fact], chunks: list[SearchResult]) -> None:
        """More facts and excerpts (a tool's results): they join the cards, sources,
        provenance and grounding check like those assembled before the model was called."""
        have = {(f.kind, f.id) for f in self.facts}
        self.facts += [f for f in facts if (f.kind, f.id) not in have]
        have_chunks = {c.chunk_id for c in self.chunks}
        self.chunks += [c for c in chunks if c.chunk_id not in have_chunks]

    def sources(self) -> list[dict[str, Any]]:
        """What the answer shows as its sources: articles, then live records."""
        documents = [
            {
                "kind": "document",
                "id": chunk.chunk_id,
                "title": f"{chunk.title}: {chunk.heading}",
                "url": chunk.url,
                "version": chunk.version,
                "as_of": iso_z(chunk.as_of),
            }
            for chunk in self.chunks
        ]
        live = [
            {k: v for k, v in fact.json().items() if k != "lines"}
            for fact in self.facts
            if fact.kind != "profile"
        ]
        return documents + live

    def provenance(self) -> dict[str, Any]:
        """The contract's `provenance` of chat.turns (without ungrounded numbers yet)."""
        documents: dict[str, dict[str, Any]] = {}
        for chunk in self.chunks:
            entry = documents.setdefault(
                chunk.doc_id, {"doc_id": chunk.doc_id, "version": chunk.version, "chunk_ids": []}
            )
            entry["chunk_ids"].append(chunk.chunk_id)
        records = self.profile.records if self.profile else []
        return {
            "profile_records": [
                {"source": r.source, "id": r.id, "version": r.version} for r in records
            ],
            "inventory": [
                {"kind": f.kind, "id": f.id, "version": f.version}
                for f in self.facts
                if f.kind in ("flight", "fare", "hotel", "hotel_rate")
            ],
            "documents": list(documents.values()),
            "ungrounded_numbers": [],
        }

    def grounding_text(self) -> str:
        """Every text the answer may take numbers from."""
        parts = [line for fact in self.facts for line in fact.lines]
        parts += [n for fact in self.facts for n in fact.numbers]
        parts += [chunk.text for chunk in self.chunks]
        return "\n".join(parts)


def turn_context(
    *,
    user: User,
    conversation: Conversation | None,
    message: str,
    now: datetime | None = None,
    time_zone: tzinfo | None = None,
) -> TurnContext:
    """`time_zone` is the traveller's as their browser says; without it, their home
    airport's, else the site's (TIME_ZONE)."""
    started = time.perf_counter()
    now = now or timezone.now()
    profile = profile_for_user(user=user, now=now)
    home = profile.home_airport.value if profile and profile.home_airport else None
    zone = time_zone or airport_zone(code=home) or timezone.get_default_timezone()
    today = now.astimezone(zone).date()
    places = gazetteer()
    entities = recognise(message, today=today, home=home, places=places)
    context = TurnContext(
        now=now,
        user_id=user.pk,
        profile=profile,
        entities=entities,
        zone=zone,
        carriers=places.carriers,
    )
    if profile is not None:
        context.facts += _profile_facts(profile, cards=_about_trips(entities))
    context.facts += flight_facts(entities, now)
    if entities.wants_hotel and entities.destination and entities.destination.hotel_city:
        context.facts += hotel_facts(entities, today)
    policy_date = entities.travel_date or _next_trip_date(profile) or today
    live = any(f.kind in ("flight", "hotel") for f in context.facts)
    k = POLICY_CHUNKS_BESIDE_LIVE_DATA if live else POLICY_CHUNKS
    context.chunks = chunks_search(query=message, k=k, on_date=policy_date)
    if conversation is not None:
        context.history = history_messages(conversation)
    context.context_ms = (time.perf_counter() - started) * 1000
    return context


# --- profile ---------------------------------------------------------------------------------


def _about_trips(entities: Entities) -> bool:
    """Whether the traveller's bookings are what the question is about (shown as cards);
    they are in the prompt either way."""
    named = entities.origin or entities.destination or entities.flight_numbers
    return entities.about_my_trip or (entities.wants_status and not named)


def _profile_facts(profile: UnifiedProfile, *, cards: bool) -> list[Fact]:
    lines = []
    if profile.name:
        lines.append(f"name: {profile.name.value}")
    if profile.home_airport:
        lines.append(f"home airport: {profile.home_airport.value}")
    if profile.preferences:
        preferences = ", ".join(f"{k} {v.value}" for k, v in sorted(profile.preferences.items()))
        lines.append(f"preferences: {preferences}")
    numbers: list[str] = []
    if profile.loyalty:
        tier, points = profile.loyalty.data.get("tier"), profile.loyalty.data.get("points")
        lines.append(f"loyalty: {tier} tier, {points} points ({profile.loyalty.id})")
        numbers.append(str(points))
    as_of = max(r.as_of for r in profile.records)
    facts = [
        Fact(
            kind="profile",
            id=profile.profile_id,
            title="Your profile",
            url="/profile/",
            version=max(r.version for r in profile.records),
            as_of=as_of,
            lines=tuple(lines),
            numbers=tuple(numbers),
            card=False,
        )
    ]
    for trip in profile.upcoming[:UPCOMING_TRIPS]:
        facts.append(replace(trip_fact(trip), card=cards))
    return facts


def trip_fact(trip: Trip) -> Fact:
    lines, numbers = [], []
    as_of = trip.as_of
    for item in trip.items:
        d = item.detail
        if item.kind == "flight" and item.live:
            departs, arrives = _local_times(
                d["origin"], d["departure_at"], d["destination"], d["arrival_at"]
            )
            lines.append(
                f"flight {d['flight_number']} {d['origin']}->{d['destination']} departs "
                f"{_when(departs)}, arrives {_arrival(arrives, departs)}, status {d['status']}, "
                f"gate {d['gate'] or 'not yet'}, {d['cabin']}, {d['passengers']} passenger(s)"
            )
            numbers += [d["flight_number"], *clock_times(departs, arrives)]
            as_of = max(as_of, d["as_of"])
        elif item.kind == "flight":
            lines.append(f"flight {item.ref} (no live details yet)")
        elif item.live:
            lines.append(f"hotel {d['name']}, {d['city']}: {item.starts} to {item.ends}")
            as_of = max(as_of, d["as_of"])
        else:
            lines.append(f"hotel {item.ref}: {item.starts} to {item.ends}")
    if trip.total:
        lines.append(f"total paid {trip.total} {trip.currency}")
        numbers.append(str(trip.total))
    return Fact(
        kind="booking",
        id=trip.booking_ref,
        title=f"Your booking {trip.booking_ref} ({trip.status})",
        url=f"/profile/#booking-{trip.booking_ref}",
        version=trip.version,
        as_of=as_of,
        lines=tuple(lines),
        numbers=tuple(numbers),
    )


def _next_trip_date(profile: UnifiedProfile | None) -> date | None:
    if profile is None or not profile.upcoming:
        return None
    starts = profile.upcoming[0].items[0].starts if profile.upcoming[0].items else None
    return starts.date() if isinstance(starts, datetime) else starts


# --- inventory -------------------------------------------------------------------------------


def flight_facts(entities: Entities, now: datetime) -> list[Fact]:
    route = entities.origin and entities.destination
    if not route and not entities.flight_numbers:
        return []
    day = entities.travel_date
    zone = airport_zone(code=entities.origin.code) if entities.origin else None
    start, end = _departure_window(entities, now, zone)
    numbered_only = bool(entities.flight_numbers) and not route
    # "Is BA117 on time?" needs the flight, not its fares (the card still shows them).
    status_only = numbered_only and entities.wants_status and entities.cabin is None
    limit = NUMBERED_FLIGHTS if numbered_only and day is None else ROUTE_FLIGHTS
    offers = flights_matching(
        origins=entities.origin.airports if entities.origin else (),
        destinations=entities.destination.airports if entities.destination else (),
        numbers=tuple(entities.flight_numbers),
        start=start,
        end=end,
        # a window wider than the day holds departures of the days either side too
        limit=limit if day is None or zone else limit * 3,
    )
    if day is not None and zone is None:  # the date is each departure airport's, as on a ticket
        offers = [o for o in offers if _local_date(o.flight.origin, o.flight.departure_at) == day]
    offers = offers[:limit]
    facts: list[Fact] = []
    for offer in offers:
        fares = [_fare_fact(offer, fare) for fare in _cheapest_per_cabin(offer, entities.cabin)]
        flight = _flight_fact(offer)
        cheapest = tuple(f.title.split(" ", 1)[1] for f in fares)  # "economy: 412.00 GBP"
        facts.append(replace(flight, card_lines=cheapest))
        if not status_only:
            facts += fares
    return facts


def _departure_window(
    entities: Entities, now: datetime, zone: tzinfo | None
) -> tuple[datetime, datetime]:
    """The departures a question is about: the travel date on the clock of the origin
    (`zone`; the date anywhere on Earth when the origin is not named), else the next days."""
    # A flight number may be asked about after it left; a route means one still to take.
    earliest = now - timedelta(hours=12) if entities.flight_numbers else now
    day = entities.travel_date
    if day is None:
        return earliest, now + ROUTE_WINDOW
    if zone is not None:
        start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    else:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        start, end = midnight - EARLIEST_OFFSET, midnight + timedelta(days=1) + LATEST_OFFSET
    return max(start, earliest), end


def _local_date(airport: str | None, moment: datetime | None) -> date | None:
    local = airport_time(code=airport, moment=moment)
    return None if local is None else local.date()


def _local_times(
    origin: str | None,
    departure_at: datetime | None,
    destination: str | None,
    arrival_at: datetime | None,
) -> tuple[datetime | None, datetime | None]:
    """A flight's departure and arrival, each on its own airport's clock."""
    return (
        airport_time(code=origin, moment=departure_at),
        airport_time(code=destination, moment=arrival_at),
    )


def _flight_fact(offer: FlightOffer) -> Fact:
    f = offer.flight
    seats = (
        f"seats economy {f.seats_economy}, premium {f.seats_premium}, business {f.seats_business}"
    )
    departs, arrives = _local_times(f.origin, f.departure_at, f.destination, f.arrival_at)
    line = (
        f"{f.flight_number} {f.origin}->{f.destination} departs {_when(departs)}, "
        f"arrives {_arrival(arrives, departs)}, status {f.status}, gate {f.gate or 'not yet'}; "
        f"{seats}"
    )
    return Fact(
        kind="flight",
        id=f.flight_id,
        title=f"{f.flight_number} {f.origin} → {f.destination}",
        url=f"/api/inventory/flights/{f.flight_id}",
        version=f.version,
        as_of=f.as_of,
        lines=(line,),
        numbers=(str(f.flight_number), *clock_times(departs, arrives)),
    )


def _cheapest_per_cabin(offer: FlightOffer, cabin: str | None) -> list[Fare]:
    cheapest: dict[str, Fare] = {}
    for fare in offer.fares:  # ordered by amount
        if fare.cabin and (cabin is None or fare.cabin == cabin):
            cheapest.setdefault(fare.cabin, fare)
    return list(cheapest.values())


def _fare_fact(offer: FlightOffer, fare: Fare) -> Fact:
    amount = _money(fare.amount)
    refundable = "refundable" if fare.refundable else "non-refundable"
    fee = f", change fee {_money(fare.change_fee)}" if fare.change_fee is not None else ""
    line = (
        f"fare {offer.flight.flight_number} {fare.cabin} class {fare.fare_class}: "
        f"{amount} {fare.currency}, {refundable}{fee}, {fare.baggage_kg} kg baggage"
    )
    return Fact(
        kind="fare",
        id=fare.fare_id,
        title=f"{offer.flight.flight_number} {fare.cabin}: {amount} {fare.currency}",
        url=f"/api/inventory/fares/{fare.fare_id}",
        version=fare.version,
        as_of=fare.as_of,
        lines=(line,),
        numbers=(amount, *([_money(fare.change_fee)] if fare.change_fee is not None else [])),
        card=False,
    )


def hotel_facts(entities: Entities, today: date) -> list[Fact]:
    assert entities.destination is not None and entities.destination.hotel_city
    check_in = entities.travel_date or today
    check_out = check_in + timedelta(days=entities.nights or DEFAULT_NIGHTS)
    offers = hotels_search(
        city=entities.destination.hotel_city, check_in=check_in, check_out=check_out
    )
    return [_hotel_fact(offer, check_in, check_out) for offer in _distinct_hotels(offers)]


def _distinct_hotels(offers: list[HotelOffer]) -> list[HotelOffer]:
    seen: dict[str, HotelOffer] = {}
    for offer in offers:  # cheapest first
        seen.setdefault(offer.hotel.hotel_id, offer)
    return list(seen.values())[:HOTELS]


def _hotel_fact(offer: HotelOffer, check_in: date, check_out: date) -> Fact:
    h, total = offer.hotel, _money(offer.total)
    nightly = [_money(rate.amount) for rate in offer.rates]
    line = (
        f"hotel {h.name} ({h.stars} stars), {h.address}: {offer.room_type} room "
        f"{check_in} to {check_out}, {offer.nights} nights, total {total} {offer.currency} "
        f"(nightly {', '.join(nightly)}), {'refundable' if offer.refundable else 'non-refundable'}"
    )
    as_of = max([h.as_of, *(rate.as_of for rate in offer.rates)])
    return Fact(
        kind="hotel",
        id=h.hotel_id,
        title=f"{h.name}: {total} {offer.currency} for {offer.nights} nights",
        url=f"/api/inventory/hotels/{h.hotel_id}",
        version=max([h.version, *(rate.version for rate in offer.rates)]),
        as_of=as_of,
        lines=(line,),
        numbers=(total, *nightly),
    )


def _money(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:.2f}"


def _when(moment: datetime | None) -> str:
    return "unknown" if moment is None else local_day_and_clock(moment)


def _arrival(arrival: datetime | None, departure: datetime | None) -> str:
    return "unknown" if arrival is None else arrival_text(arrival, departure)


# --- history ---------------------------------------------------------------------------------


def history_messages(conversation: Conversation) -> list[dict[str, str]]:
    """The latest finished turns, oldest first, within HISTORY_TOKEN_BUDGET."""
    turns = Turn.objects.filter(
        conversation=conversation, status__in=[Turn.Status.ANSWERED, Turn.Status.STOPPED]
    ).order_by("-created_at")[:10]
    budget = HISTORY_TOKEN_BUDGET * CHARS_PER_TOKEN
    messages: list[dict[str, str]] = []
    for turn in turns:
        cost = len(turn.question) + len(turn.answer)
        if cost > budget:
            break
        budget -= cost
        messages[:0] = [
            {"role": "user", "content": turn.question},
            {"role": "assistant", "content": turn.answer},
        ]
    return messages
