"""Simulated customer systems: a CRM, a loyalty platform and a booking engine that know the
same travellers by different ids, each with its own spelling of their email and phone.

The people are drawn from a seed, with the mess real systems have: emails in other cases and
with stray spaces, phones written nationally or internationally, junk phones ("n/a"),
households sharing one phone, people registered twice, bookings made with another address.
Bookings reference flights and hotels of the simulated inventory world, so a profile's trips
join to live flight status. One person is the demo traveller (DEMO_EMAIL), with upcoming trips
from London, so `make run` shows a rich profile.

Events are `Change` items, as the inventory changes are, so one publisher sends both.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from simulator.changes import Change, Item
from simulator.world import LsnClock, Row, World, iso, parse_iso
from travelbot.streams import contract
from travelbot.streams.envelope import make_change

DEMO_EMAIL = "demo@example.com"
DEMO_CUSTOMER_ID = "C-100000"
DEMO_MEMBER_ID = "TB-100000001"

# table -> (source system, topic): the systems the contract's customer topics come from.
SOURCES: dict[str, tuple[str, contract.CdcTopic]] = {
    "customers": ("crm", contract.CUSTOMERS),
    "members": ("loyalty", contract.MEMBERS),
    "reservations": ("booking_engine", contract.BOOKINGS),
}
TIERS = ("blue", "silver", "gold", "platinum")
TIER_WEIGHTS = (60, 25, 11, 4)
SEATS = ("aisle", "window", "no preference")
MEALS = ("standard", "vegetarian", "vegan", "halal", "kosher", "gluten free")
HOME_AIRPORTS = ("LHR", "LGW", "MAN", "EDI", "CDG", "AMS", "FRA", "MAD", "DUB", "JFK")
FIRST_NAMES = (
    "Ana", "Ben", "Chloe", "Daniel", "Elif", "Farah", "George", "Hana", "Ivan", "Julia",
    "Kofi", "Lena", "Marco", "Nadia", "Oliver", "Priya", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "William", "Xin", "Yusuf", "Zoe", "Aisha", "Bruno", "Carmen", "Diego",
)  # fmt: skip
LAST_NAMES = (
    "Silva", "Okafor", "Nguyen", "Kowalski", "Haddad", "Schmidt", "Rossi", "Patel", "Murphy",
    "Yilmaz", "Andersen", "Dubois", "Tanaka", "Garcia", "Novak", "Cohen", "Evans", "Moreau",
    "Jansen", "Costa", "Ibrahim", "Larsen", "Fischer", "Lopez", "Walsh", "Khan", "Berg",
)  # fmt: skip
DOMAINS = ("example.com", "example.org", "mail.example.net", "example.co.uk")
JUNK_PHONES = ("n/a", "000", "unknown", "12345", "tel")
REFERENCE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Relative frequency of each change; points move most, identity changes are rare.
KIND_WEIGHTS: dict[str, float] = {
    "points": 30,
    "new_booking": 20,
    "booking_cancelled": 5,
    "preferences": 8,
    "email_change": 3,
    "phone_change": 3,
    "tier_upgrade": 2,
    "new_customer": 6,
    "record_deleted": 0.5,
}


@dataclass
class People:
    """The three systems' tables, keyed by id, and the lsn clock they share."""

    rows: dict[str, dict[str, Row]] = field(
        default_factory=lambda: {table: {} for table in SOURCES}
    )
    lsn: LsnClock = field(default_factory=LsnClock)
    next_person: int = 1

    def size(self) -> dict[str, int]:
        return {table: len(rows) for table, rows in self.rows.items()}


def customer_change(
    people: People, table: str, *, op: str, before: Row | None, after: Row | None, kind: str
) -> Change:
    system, topic = SOURCES[table]
    row = after if after is not None else before
    assert row is not None
    key = row[topic.key_field]
    if after is None:
        people.rows[table].pop(key, None)
    else:
        people.rows[table][key] = after
    lsn = people.lsn.next(table)
    value = make_change(
        op=op,
        after=after,
        before=before,
        system=system,
        table=table,
        lsn=lsn,
        source_ts_ms=lsn // 1000,
        ts_ms=lsn // 1000,
    )
    return Change(topic.name, {topic.key_field: key}, value, kind)


# --- spellings -------------------------------------------------------------------------------


def spelled_email(email: str, rng: random.Random) -> str:
    """The same address as another system might hold it: other case, stray spaces."""
    roll = rng.random()
    if roll < 0.15:
        return email.upper()
    if roll < 0.3:
        return email.capitalize()
    if roll < 0.4:
        return f" {email} "
    return email


def spelled_phone(national: str, rng: random.Random) -> str:
    """A UK mobile (10 digits after the 0) the way people type it."""
    digits = national.lstrip("0")
    roll = rng.random()
    if roll < 0.3:
        return f"+44 {digits[:4]} {digits[4:]}"
    if roll < 0.55:
        return f"0{digits[:4]} {digits[4:]}"
    if roll < 0.7:
        return f"+44{digits}"
    if roll < 0.8:
        return f"0044 {digits}"
    if roll < 0.9:
        return f"(0{digits[:4]}) {digits[4:7]}-{digits[7:]}"
    return f"0{digits}"


def _mobile(rng: random.Random) -> str:
    return f"07700{rng.randint(0, 999_999):06d}"


def _reference(rng: random.Random) -> str:
    return "".join(rng.choice(REFERENCE_LETTERS) for _ in range(6))


# --- people and bookings ---------------------------------------------------------------------


def _customer(
    customer_id: str, first: str, last: str, email: str, phone: str | None, rng: random.Random
) -> Row:
    return {
        "customer_id": customer_id,
        "email": email,
        "phone": phone,
        "first_name": first,
        "last_name": last,
        "home_airport": rng.choice(HOME_AIRPORTS),
        "preferences": {"seat": rng.choice(SEATS), "meal": rng.choice(MEALS)},
        "marketing_opt_in": rng.random() < 0.4,
    }


def _member(member_id: str, email: str | None, phone: str | None, rng: random.Random) -> Row:
    tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
    floor = {"blue": 0, "silver": 20_000, "gold": 50_000, "platinum": 100_000}[tier]
    return {
        "member_id": member_id,
        "email": email,
        "phone": phone,
        "tier": tier,
        "points": floor + rng.randint(0, 40_000),
    }


def _flight_item(world: World, flight_id: str, passengers: int, rng: random.Random) -> Row:
    cabin = rng.choices(("economy", "premium", "business"), weights=(80, 12, 8))[0]
    return {"type": "flight", "flight_id": flight_id, "cabin": cabin, "passengers": passengers}


def _hotel_item(world: World, flight: Row, nights: int, rng: random.Random) -> Row | None:
    """A stay at the flight's destination from its arrival day, if the world has hotels there."""
    route = world.route_of_flight.get(flight["flight_id"])
    if route is None:
        return None
    hotels = world.hotels_by_city.get(route.destination.metro)
    if not hotels:
        return None
    check_in = parse_iso(flight["arrival_at"]).date()
    return {
        "type": "hotel",
        "hotel_id": rng.choice(hotels),
        "check_in": check_in.isoformat(),
        "check_out": (check_in + timedelta(days=nights)).isoformat(),
        "room_type": rng.choice(("single", "double", "double", "suite")),
    }


def booking_row(
    world: World,
    flight: Row,
    *,
    email: str | None,
    rng: random.Random,
    now: datetime,
    status: str = "confirmed",
    **links: str | None,
) -> Row:
    passengers = rng.choices((1, 2, 3, 4), weights=(55, 30, 8, 7))[0]
    items = [_flight_item(world, flight["flight_id"], passengers, rng)]
    if rng.random() < 0.5:
        stay = _hotel_item(world, flight, rng.randint(1, 6), rng)
        if stay is not None:
            items.append(stay)
    total = sum(rng.uniform(90, 650) for _ in items) * passengers
    return {
        "booking_ref": _reference(rng),
        "email": email,
        "phone": None,
        "customer_id": links.get("customer_id"),
        "member_id": links.get("member_id"),
        "status": status,
        "items": items,
        "total": f"{total:.2f}",
        "currency": "GBP",
        "created_at": iso(now - timedelta(days=rng.randint(1, 90), minutes=rng.randint(0, 1440))),
    }


def _flights_from(world: World, origin: str | None, now: datetime) -> list[Row]:
    """Scheduled flights departing after `now`, from `origin` when given."""
    flights = world.rows["flights"]
    found = []
    for departure, flight_id in world.departures:
        if departure <= iso(now):
            continue
        flight = flights.get(flight_id)
        if flight is not None and (origin is None or flight["origin"] == origin):
            found.append(flight)
    return found


class Population:
    """Draws people into `People`, each as the changes that create their records."""

    def __init__(self, world: World, people: People, rng: random.Random, now: datetime) -> None:
        self.world, self.people, self.rng, self.now = world, people, rng, now
        self.upcoming = _flights_from(world, None, now)
        self.op = "r"  # a snapshot reads what exists; the change stream sets "c"

    def past_flight(self) -> Row:
        """A flight of an earlier season on a route of the world (its id with an older date)."""
        flight = self.rng.choice(self.upcoming)
        shift = timedelta(days=self.rng.randint(30, 400))
        departure = parse_iso(flight["departure_at"]) - shift
        return {
            **flight,
            "flight_id": f"{flight['flight_number']}-{departure:%Y-%m-%d}",
            "departure_at": iso(departure),
            "arrival_at": iso(parse_iso(flight["arrival_at"]) - shift),
        }

    def person(self) -> list[Change]:
        """One traveller as their systems hold them (sometimes a household of two)."""
        rng, n = self.rng, self.people.next_person
        self.people.next_person += 1
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}{n}@{rng.choice(DOMAINS)}".lower()
        mobile = _mobile(rng)
        phone: str | None = spelled_phone(mobile, rng)
        if rng.random() < 0.03:
            phone = rng.choice(JUNK_PHONES)  # kept, never matched, listed for staff
        customer_id = f"C-{200_000 + n}"
        changes: list[Change] = []
        crm = rng.random() >= 0.05  # some travellers are loyalty members the CRM never saw
        if crm:
            customer = _customer(customer_id, first, last, email, phone, rng)
            changes.append(self._create("customers", customer))
        if crm and rng.random() < 0.04:  # registered twice: same address, other case
            twin = _customer(f"C-{700_000 + n}", first, last, email.upper(), None, rng)
            changes.append(self._create("customers", twin))
        if crm and rng.random() < 0.08:  # a household: a partner with their own email, one phone
            partner = _customer(
                f"C-{800_000 + n}",
                rng.choice(FIRST_NAMES),
                last,
                f"{last}.home{n}@{rng.choice(DOMAINS)}".lower(),
                spelled_phone(mobile, rng),
                rng,
            )
            changes.append(self._create("customers", partner))
        member_id = None
        if rng.random() < 0.65:
            member_id = f"TB-{300_000_000 + n}"
            member_phone = spelled_phone(mobile, rng) if rng.random() < 0.5 or not crm else None
            member_email = spelled_email(email, rng)
            if rng.random() < 0.1:  # a second address: joined through the phone or bookings
                member_email = f"{first}{n}@private.example".lower()
                member_phone = spelled_phone(mobile, rng)
            member = _member(member_id, member_email, member_phone, rng)
            changes.append(self._create("members", member))
        for _ in range(rng.choices((0, 1, 2, 3), weights=(25, 45, 20, 10))[0]):
            changes += self.booking(email, member_id=member_id)
        return changes

    def booking(
        self, email: str, *, member_id: str | None = None, customer_id: str | None = None
    ) -> list[Change]:
        rng = self.rng
        if not self.upcoming:
            return []
        upcoming = rng.random() < 0.6
        flight = rng.choice(self.upcoming) if upcoming else self.past_flight()
        status = "confirmed" if upcoming else "completed"
        if rng.random() < 0.08:
            status = "cancelled"
        # Some bookings are made with a work address and no loyalty number: another profile.
        spelled = spelled_email(email, rng) if rng.random() < 0.9 else f"work.{email}"
        row = booking_row(
            self.world,
            flight,
            email=spelled,
            rng=rng,
            now=self.now,
            status=status,
            member_id=member_id if rng.random() < 0.7 else None,
            customer_id=customer_id,
        )
        return [self._create("reservations", row)]

    def demo(self) -> list[Change]:
        """The demo traveller: gold member from London with two upcoming trips, a past one and
        a cancelled one, under three spellings of their address."""
        rng = random.Random(1)
        customer = _customer(DEMO_CUSTOMER_ID, "Alex", "Morgan", DEMO_EMAIL, "+44 7700 900100", rng)
        customer.update(
            home_airport="LHR",
            preferences={"seat": "aisle", "meal": "vegetarian"},
            marketing_opt_in=False,
        )
        member = {
            "member_id": DEMO_MEMBER_ID,
            "email": "Demo@Example.com",
            "phone": "07700 900100",
            "tier": "gold",
            "points": 48_210,
        }
        changes = [self._create("customers", customer), self._create("members", member)]
        from_london = _flights_from(self.world, "LHR", self.now) or self.upcoming
        if not from_london:
            return changes
        soon = [f for f in from_london if f["departure_at"] <= iso(self.now + timedelta(days=3))]
        later = [f for f in from_london if f["departure_at"] >= iso(self.now + timedelta(days=10))]
        trips = [(soon or from_london)[:1], later[:1] or from_london[-1:]]
        for trip in trips:
            for flight in trip:
                row = booking_row(
                    self.world, flight, email=" DEMO@example.com", rng=rng, now=self.now
                )
                row["member_id"] = DEMO_MEMBER_ID
                stay = _hotel_item(self.world, flight, 3, rng)
                row["items"] = [row["items"][0], *([stay] if stay else [])]
                changes.append(self._create("reservations", row))
        past, cancelled = self.past_flight(), from_london[len(from_london) // 2]
        for status, flight in (("completed", past), ("cancelled", cancelled)):
            row = booking_row(
                self.world, flight, email=DEMO_EMAIL, rng=rng, now=self.now, status=status,
                customer_id=DEMO_CUSTOMER_ID,
            )  # fmt: skip
            changes.append(self._create("reservations", row))
        return changes

    def _create(self, table: str, row: Row) -> Change:
        return customer_change(
            self.people, table, op=self.op, before=None, after=row, kind="snapshot"
        )


def customer_snapshot(
    world: World, *, count: int, seed: int = 7, now: datetime | None = None
) -> tuple[People, list[Change]]:
    """The demo traveller and about `count` more people, as op r events (about 2.3 per person)."""
    people = People()
    population = Population(world, people, random.Random(seed), now or datetime.now(UTC))
    changes = population.demo()
    for _ in range(count):
        changes += population.person()
    return people, changes


class CustomerChanges:
    """Everyday changes in the three systems: points, bookings, cancellations, new sign-ups,
    new addresses and phones (which can split or merge profiles), the odd erasure."""

    def __init__(
        self, world: World, people: People, *, seed: int = 0, now: datetime | None = None
    ) -> None:
        self.people = people
        self.rng = random.Random(seed + 101)
        self.population = Population(world, people, self.rng, now or datetime.now(UTC))
        self.population.op = "c"
        self.kinds, self.weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
        self._key_cache: dict[str, list[str]] = {}

    def steps(self) -> Iterator[list[Item]]:
        while True:
            kind = self.rng.choices(self.kinds, weights=self.weights)[0]
            changes: list[Item] = getattr(self, f"_{kind}")()
            if changes:
                yield changes

    def _pick(self, table: str) -> Row | None:
        rows = self.people.rows[table]
        if not rows:
            return None
        for _ in range(3):
            key = self.rng.choice(self._keys(table))
            if key in rows and key not in (DEMO_CUSTOMER_ID, DEMO_MEMBER_ID):
                return rows[key]
        return None

    def _keys(self, table: str) -> list[str]:
        # Copying the keys costs O(n): redone only when the table has grown by a tenth.
        keys = self._key_cache.get(table)
        if keys is None or len(keys) < len(self.people.rows[table]) * 0.9:
            keys = self._key_cache[table] = list(self.people.rows[table])
        return keys

    def _update(self, table: str, before: Row, kind: str, **fields: Any) -> list[Change]:
        after = {**before, **fields}
        return [customer_change(self.people, table, op="u", before=before, after=after, kind=kind)]

    def _points(self) -> list[Change]:
        member = self._pick("members")
        if member is None:
            return []
        return self._update(
            "members", member, "points", points=member["points"] + self.rng.randint(50, 3000)
        )

    def _tier_upgrade(self) -> list[Change]:
        member = self._pick("members")
        if member is None:
            return []
        rank = TIERS.index(member["tier"])
        if rank == len(TIERS) - 1:
            return []
        return self._update("members", member, "tier_upgrade", tier=TIERS[rank + 1])

    def _preferences(self) -> list[Change]:
        customer = self._pick("customers")
        if customer is None:
            return []
        preferences = {"seat": self.rng.choice(SEATS), "meal": self.rng.choice(MEALS)}
        return self._update("customers", customer, "preferences", preferences=preferences)

    def _email_change(self) -> list[Change]:
        customer = self._pick("customers")
        if customer is None:
            return []
        email = f"{customer['first_name']}.{customer['last_name']}.{self.rng.randint(1, 99)}"
        return self._update(
            "customers", customer, "email_change", email=f"{email}@example.net".lower()
        )

    def _phone_change(self) -> list[Change]:
        customer = self._pick("customers")
        if customer is None:
            return []
        return self._update(
            "customers", customer, "phone_change", phone=spelled_phone(_mobile(self.rng), self.rng)
        )

    def _new_booking(self) -> list[Change]:
        customer = self._pick("customers")
        if customer is None or not customer.get("email"):
            return []
        changes = self.population.booking(customer["email"].strip().lower())
        return [change._replace(kind="new_booking") for change in changes]

    def _booking_cancelled(self) -> list[Change]:
        booking = self._pick("reservations")
        if booking is None or booking["status"] != "confirmed":
            return []
        return self._update("reservations", booking, "booking_cancelled", status="cancelled")

    def _new_customer(self) -> list[Change]:
        changes = self.population.person()
        return [change._replace(kind="new_customer") for change in changes]

    def _record_deleted(self) -> list[Change]:
        """A record removed at its source (a closed account, a purged booking)."""
        table = self.rng.choice(list(SOURCES))
        row = self._pick(table)
        if row is None:
            return []
        return [customer_change(self.people, table, op="d", before=row, after=None, kind="deleted")]
