"""Contract events over a simulated World: the snapshot and a stream of changes, no Kafka here.

Items are `Change` (JSON key and value dicts; value None is a tombstone) for the JSON producer,
and `RawRecord` (bytes that break the contract on purpose) for the raw producer. Both carry a
`kind` so publishers can count what they sent.
"""

from __future__ import annotations

import bisect
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple

from simulator.geography import USD_RATE
from simulator.world import (
    AMENITIES,
    BOARDING_LEAD,
    CABINS,
    GATE_LEAD,
    ROOM_TYPES,
    TABLES,
    Row,
    World,
    add_flight,
    departure_on,
    fare_base_usd,
    iso,
    make_service,
    money,
    parse_iso,
    random_gate,
    rate_base,
    rate_row,
)
from travelbot.streams import contract
from travelbot.streams.envelope import MAX_RECORD_BYTES, make_change
from travelbot.streams.kafka import encode_json


@dataclass(frozen=True, slots=True)
class Source:
    """A simulated source table: the system that owns it and the contract topic it feeds."""

    table: str
    system: str
    contract: contract.CdcTopic

    @property
    def topic(self) -> str:
        return self.contract.name

    @property
    def key_field(self) -> str:
        return self.contract.key_field


SOURCES: dict[str, Source] = {
    "flights": Source("flights", "gds", contract.FLIGHTS),
    "fares": Source("fares", "gds", contract.FARES),
    "hotels": Source("hotels", "channel_manager", contract.HOTELS),
    "hotel_rates": Source("hotel_rates", "channel_manager", contract.HOTEL_RATES),
}
SOURCE_BY_TOPIC = {source.topic: source for source in SOURCES.values()}
INVENTORY_TOPICS = tuple(source.topic for source in SOURCES.values())


class Change(NamedTuple):
    topic: str
    key: dict[str, str]
    value: dict[str, Any] | None
    kind: str


class RawRecord(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes
    kind: str


Item = Change | RawRecord


@dataclass(frozen=True, slots=True)
class Faults:
    """Chances, per generated change event, of adding each kind of fault after it."""

    duplicate_ratio: float = 0.0
    replay_ratio: float = 0.0
    tombstone_ratio: float = 0.0
    malformed_ratio: float = 0.0

    def __post_init__(self) -> None:
        for name in ("duplicate_ratio", "replay_ratio", "tombstone_ratio", "malformed_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


NO_FAULTS = Faults()
MALFORMED_KINDS = ("not_json", "wrong_type", "missing_key_field", "unknown_op", "oversized")
# Relative frequency of each change; seat sales and price moves dominate real feeds. Delays,
# gate changes and cancellations only touch the few hundred flights near departure, so their
# weights are small: at 20 events/s about a third of flights get a delay, fewer a gate change.
KIND_WEIGHTS: dict[str, float] = {
    "seat_sale": 26,
    "fare_move": 22,
    "delay": 0.02,
    "gate_change": 0.02,
    "progress": 6,
    "cancellation": 0.05,
    "new_flight": 0.5,
    "withdrawn_flight": 0.5,
    "rate_move": 20,
    "availability": 15,
    "new_rate": 1,
    "withdrawn_rate": 1,
    "hotel_update": 0.5,
}
OPEN = ("scheduled", "delayed")
STATUS_RANK = {"scheduled": 0, "delayed": 0, "boarding": 1, "departed": 2, "arrived": 3}
PROGRESSION = ("boarding", "departed", "arrived")
DELAY_MINUTES = (15, 20, 30, 45, 60, 90, 120, 180)
# A flight is delayed at most this long past its first scheduled departure, then it flies.
MAX_DELAY = timedelta(hours=6)
# Delays are announced for flights departing within this long.
DELAY_AHEAD = timedelta(hours=6)
CANCEL_AHEAD = timedelta(hours=48)
# No more cancellations while this share of the flights departing within CANCEL_AHEAD is.
MAX_CANCELLED_SHARE = 0.02
# Longer than any flight: a flight departed this long ago has arrived.
LONGEST_FLIGHT = timedelta(hours=20)
# Price random walks take this fraction of the way back to the base price at each move, so
# prices wander around it (roughly 0.6-1.6x) instead of drifting off over days.
PRICE_REVERSION = 0.15
# New flights and rates are skipped above, withdrawals below, the world's size at start by
# this fraction: the two balance and the world stays the same size over a long run.
SIZE_SLACK = 0.01
PICK_TRIES = 30
# A world where nothing can change any more (all flights gone, say) ends the stream.
MAX_IDLE_STEPS = 10_000


def emit(
    world: World, table: str, *, op: str, before: Row | None, after: Row | None, kind: str
) -> Change:
    """One envelope with the table's next lsn; event and emit time are both the lsn's instant."""
    source = SOURCES[table]
    row = after if after is not None else before
    assert row is not None
    key = row[source.key_field]
    lsn = world.lsn.next(table)
    world.versions[table][key] = lsn
    return change_at(table, key, op=op, before=before, after=after, lsn=lsn, kind=kind)


def change_at(
    table: str, key: str, *, op: str, before: Row | None, after: Row | None, lsn: int, kind: str
) -> Change:
    """The envelope of a change at `lsn`; event and emit time are both the lsn's instant."""
    source = SOURCES[table]
    value = make_change(
        op=op,
        after=after,
        before=before,
        system=source.system,
        table=table,
        lsn=lsn,
        source_ts_ms=lsn // 1000,
        ts_ms=lsn // 1000,
    )
    return Change(source.topic, {source.key_field: key}, value, kind)


def snapshot_changes(world: World) -> Iterator[Change]:
    """Every entity as op r, flights before fares and hotels before rates."""
    for table in TABLES:
        for row in world.rows[table].values():
            yield emit(world, table, op="r", before=None, after=row, kind="snapshot")


def _next_status(flight: Row, now: str, boarding_from: str) -> str | None:
    """The next status of the progression if the flight's times say it is overdue.

    `now` and `boarding_from` (now + BOARDING_LEAD) are ISO strings: UTC ISO timestamps sort
    as text, so the hundreds of flights near now are checked without parsing a date.
    """
    rank = STATUS_RANK.get(flight["status"])  # cancelled flights do not progress
    if rank is None:
        return None
    if flight["arrival_at"] <= now:
        due = STATUS_RANK["arrived"]
    elif flight["departure_at"] <= now:
        due = STATUS_RANK["departed"]
    else:
        due = STATUS_RANK["boarding" if flight["departure_at"] <= boarding_from else "scheduled"]
    return PROGRESSION[rank] if due > rank else None


def _wrong_types(table: str, row: Row) -> Row:
    """The row with one field in a plausible but wrong JSON type."""
    if table in ("fares", "hotel_rates"):
        return {**row, "amount": float(row["amount"])}
    if table == "flights":
        return {**row, "seats_available": {k: str(v) for k, v in row["seats_available"].items()}}
    return {**row, "stars": str(row["stars"])}


def malformed_record(change: Change, variant: str) -> RawRecord:
    """A record derived from `change` that breaks the contract in the way `variant` names."""
    assert change.value is not None
    source = SOURCE_BY_TOPIC[change.topic]
    row = change.value["after"] or change.value["before"]
    envelope = {**change.value, "op": "u", "before": None, "after": row}
    key: Any = change.key
    if variant == "wrong_type":
        envelope["after"] = _wrong_types(source.table, row)
    elif variant == "missing_key_field":
        key = {"id": change.key[source.key_field]}
    elif variant == "unknown_op":
        envelope["op"] = "update"
    elif variant == "oversized":
        envelope["after"] = {**row, "notes": "x" * MAX_RECORD_BYTES}
    elif variant != "not_json":
        raise ValueError(f"unknown malformed variant {variant!r}")
    value = encode_json(envelope) or b""
    if variant == "not_json":
        value = value[: len(value) // 2]  # a record cut short
    return RawRecord(change.topic, encode_json(key), value, f"malformed_{variant}")


class ChangeGenerator:
    """Changes to the world in the contract's shape, with optional fault injection.

    Every change is applied to the world, so the after of one event is the before of the next
    event of that key. `clock` gives the simulated now (epoch seconds) for flight progression.
    Memory stays bounded over any run: apart from the world, only the last `replay_memory`
    superseded events are kept (and only when replays are asked for).
    """

    def __init__(
        self,
        world: World,
        *,
        seed: int = 0,
        faults: Faults = NO_FAULTS,
        clock: Callable[[], float] = time.time,
        replay_memory: int = 2000,
        weights: Mapping[str, float] = KIND_WEIGHTS,
    ) -> None:
        self.world = world
        self.rng = random.Random(seed)
        self.faults = faults
        self.clock = clock
        # Older events of keys since changed: what a stale replay resends.
        self.superseded: deque[Change] = deque(maxlen=replay_memory)
        self._sizes = world.size()
        self._kinds = [kind for kind, weight in weights.items() if weight > 0]
        self._weights = [weights[kind] for kind in self._kinds]
        self._makers: dict[str, Callable[[datetime], list[Change]]] = {
            kind: getattr(self, f"_{kind}") for kind in self._kinds
        }

    def __iter__(self) -> Iterator[Item]:
        for items in self.steps():
            yield from items

    def steps(self) -> Iterator[list[Item]]:
        """The non-empty steps; a publisher that stops between steps never splits a change."""
        idle = 0
        while idle < MAX_IDLE_STEPS:
            items = self.step()
            idle = 0 if items else idle + 1
            if items:
                yield items

    def step(self) -> list[Item]:
        """One change (a few events for a withdrawn flight) followed by any injected faults."""
        kind = self.rng.choices(self._kinds, weights=self._weights)[0]
        changes = self._makers[kind](datetime.fromtimestamp(self.clock(), UTC))
        return [*changes, *self._faults_after(changes)]

    # -- events and their memory, for stale replays ---------------------------------------

    def _emit(
        self, table: str, op: str, before: Row | None, after: Row | None, kind: str
    ) -> Change:
        row = after if after is not None else before
        assert row is not None
        key = row[SOURCES[table].key_field]
        old_lsn = self.world.versions[table].get(key)
        if self.faults.replay_ratio and before is not None and old_lsn is not None:
            self.superseded.append(self._event_at(table, key, before, old_lsn))
        change = emit(self.world, table, op=op, before=before, after=after, kind=kind)
        if after is None:  # deleted: only the world's rows remember what existed
            del self.world.versions[table][key]
        return change

    def _event_at(self, table: str, key: str, row: Row, lsn: int) -> Change:
        """The event that made `row` current at `lsn`, rebuilt for a stale replay."""
        return change_at(table, key, op="u", before=None, after=row, lsn=lsn, kind="superseded")

    def _update(self, table: str, before: Row, kind: str, **fields: Any) -> list[Change]:
        after = {**before, **fields}
        self.world.put(table, after[SOURCES[table].key_field], after)
        return [self._emit(table, "u", before, after, kind)]

    def _delete(self, table: str, row: Row, kind: str) -> list[Change]:
        self.world.drop(table, row[SOURCES[table].key_field])
        deleted = self._emit(table, "d", row, None, kind)
        return [deleted, Change(deleted.topic, deleted.key, None, "tombstone")]

    def _below_size(self, table: str) -> bool:
        return len(self.world.rows[table]) < self._sizes[table] * (1 + SIZE_SLACK)

    def _above_size(self, table: str) -> bool:
        return len(self.world.rows[table]) > self._sizes[table] * (1 - SIZE_SLACK)

    # -- faults -----------------------------------------------------------------------------

    def _faults_after(self, changes: list[Change]) -> list[Item]:
        faults: list[Item] = []
        for change in changes:
            if change.value is not None:
                faults.extend(self._faults_for(change))
        return faults

    def _faults_for(self, change: Change) -> Iterator[Item]:
        rng, faults = self.rng, self.faults
        if faults.duplicate_ratio and rng.random() < faults.duplicate_ratio:
            yield change._replace(kind="duplicate")
        if faults.replay_ratio and rng.random() < faults.replay_ratio and self.superseded:
            yield rng.choice(self.superseded)._replace(kind="replay")
        if faults.tombstone_ratio and rng.random() < faults.tombstone_ratio:
            yield from self._stray_tombstone()
        if faults.malformed_ratio and rng.random() < faults.malformed_ratio:
            yield malformed_record(change, rng.choice(MALFORMED_KINDS))

    def _stray_tombstone(self) -> Iterator[Change]:
        source = SOURCES[self.rng.choice(TABLES)]
        key = self.world.pools[source.table].choice(self.rng)
        if key is not None:
            yield Change(source.topic, {source.key_field: key}, None, "injected_tombstone")

    # -- picking rows -----------------------------------------------------------------------

    def _random_row(self, table: str) -> Row | None:
        key = self.world.pools[table].choice(self.rng)
        return None if key is None else self.world.rows[table][key]

    def _open_flight(self, now: datetime) -> Row | None:
        """A flight still on sale: scheduled or delayed, departing in the future."""
        after = iso(now)
        for _ in range(PICK_TRIES):
            flight = self._random_row("flights")
            if flight is not None and flight["status"] in OPEN and flight["departure_at"] > after:
                return flight
        return None

    def _departure_range(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Where flights first scheduled in [start - MAX_DELAY, end] are in the index: all
        flights whose current departure is in [start, end], and some more."""
        departures = self.world.departures
        return (
            bisect.bisect_left(departures, (iso(start - MAX_DELAY), "")),
            bisect.bisect_right(departures, (iso(end), "~")),
        )

    def _flights_departing(self, start: datetime, end: datetime) -> Iterator[Row]:
        """Flights currently scheduled to depart in [start, end]."""
        low, high = self._departure_range(start, end)
        flights, first, last = self.world.rows["flights"], iso(start), iso(end)
        for _, flight_id in self.world.departures[low:high]:
            flight = flights.get(flight_id)
            if flight is not None and first <= flight["departure_at"] <= last:
                yield flight

    def _near_flight(
        self, start: datetime, end: datetime, *, statuses: tuple[str, ...]
    ) -> Row | None:
        """A random flight currently departing in [start, end], in `statuses`."""
        low, high = self._departure_range(start, end)
        first, last = iso(start), iso(end)
        for _ in range(PICK_TRIES if high > low else 0):
            flight = self.world.rows["flights"].get(
                self.world.departures[self.rng.randrange(low, high)][1]
            )
            if (
                flight is not None
                and flight["status"] in statuses
                and first <= flight["departure_at"] <= last
            ):
                return flight
        return None

    def _future_rate(self, now: datetime) -> Row | None:
        today = now.date().isoformat()
        for _ in range(PICK_TRIES):
            rate = self._random_row("hotel_rates")
            if rate is not None and rate["night"] >= today:
                return rate
        return None

    # -- flight changes ---------------------------------------------------------------------

    def _seat_sale(self, now: datetime) -> list[Change]:
        flight = self._open_flight(now)
        seats = flight["seats_available"] if flight else {}
        cabins = [cabin for cabin in CABINS if seats.get(cabin)]
        if flight is None or not cabins:
            return []
        cabin = self.rng.choice(cabins)
        sold = min(seats[cabin], self.rng.randint(1, 4))
        return self._update(
            "flights", flight, "seat_sale", seats_available={**seats, cabin: seats[cabin] - sold}
        )

    def _fare_move(self, now: datetime) -> list[Change]:
        fare = self._random_row("fares")
        flight = self.world.rows["flights"].get(fare["flight_id"]) if fare else None
        route = self.world.route_of_flight.get(fare["flight_id"]) if fare else None
        if fare is None or flight is None or route is None or flight["status"] not in OPEN:
            return []
        days_out = (parse_iso(flight["departure_at"]) - now).days
        base = fare_base_usd(route.distance_km, fare["cabin"], days_out)
        base *= USD_RATE[fare["currency"]]
        amount = self._walk(float(fare["amount"]), base, (0.02, 0.12))
        return self._update("fares", fare, "fare_move", amount=money(amount))

    def _walk(self, price: float, base: float, step: tuple[float, float]) -> float:
        """One move of a mean-reverting random walk around `base`."""
        noise = self.rng.choice((-1, 1)) * self.rng.uniform(*step) * price
        return price + PRICE_REVERSION * (base - price) + noise

    def _delay(self, now: datetime) -> list[Change]:
        flight = self._near_flight(now, now + DELAY_AHEAD, statuses=OPEN)
        if flight is None:
            return []
        departure = parse_iso(flight["departure_at"])
        latest = parse_iso(self.world.first_departure[flight["flight_id"]]) + MAX_DELAY
        late = min(timedelta(minutes=self.rng.choice(DELAY_MINUTES)), latest - departure)
        if late <= timedelta(0):
            return []
        return self._update(
            "flights",
            flight,
            "delay",
            status="delayed",
            departure_at=iso(departure + late),
            arrival_at=iso(parse_iso(flight["arrival_at"]) + late),
        )

    def _gate_change(self, now: datetime) -> list[Change]:
        flight = self._near_flight(now, now + GATE_LEAD, statuses=(*OPEN, "boarding"))
        gate = random_gate(self.rng)
        if flight is None or gate == flight["gate"]:
            return []
        return self._update("flights", flight, "gate_change", gate=gate)

    def _progress(self, now: datetime) -> list[Change]:
        """Move a flight near now one step towards the status its times call for."""
        times = (iso(now), iso(now + BOARDING_LEAD))
        window = self._flights_departing(now - LONGEST_FLIGHT, now + BOARDING_LEAD)
        due = [flight for flight in window if _next_status(flight, *times) is not None]
        if not due:
            return []
        flight = self.rng.choice(due)
        return self._update(
            "flights",
            flight,
            "progress",
            status=_next_status(flight, *times),
            gate=flight["gate"] or random_gate(self.rng),
        )

    def _cancellation(self, now: datetime) -> list[Change]:
        soon = list(self._flights_departing(now, now + CANCEL_AHEAD))
        cancelled = sum(1 for flight in soon if flight["status"] == "cancelled")
        if cancelled >= MAX_CANCELLED_SHARE * len(soon):
            return []
        open_soon = [flight for flight in soon if flight["status"] in OPEN]
        if not open_soon:
            return []
        flight = self.rng.choice(open_soon)
        return self._update("flights", flight, "cancellation", status="cancelled")

    def _new_flight(self, now: datetime) -> list[Change]:
        """An extra section on an existing route, on a later day of the horizon."""
        world, rng = self.world, self.rng
        if not self._below_size("flights"):
            return []
        route = rng.choice(world.routes)
        service = make_service(route.carrier, route.origin, rng, world.flight_numbers)
        departure = departure_on(world.start, rng.randrange(1, max(2, world.days)), service)
        if f"{service.flight_number}-{departure:%Y-%m-%d}" in world.rows["flights"]:
            return []  # a wrapped-around number that is already flying that day
        rows = add_flight(world, route, service.flight_number, departure, now, rng)
        bisect.insort(world.departures, (rows[0]["departure_at"], rows[0]["flight_id"]))
        return [
            self._emit("flights", "c", None, rows[0], "new_flight"),
            *(self._emit("fares", "c", None, fare, "new_fare") for fare in rows[1:]),
        ]

    def _withdrawn_flight(self, now: datetime) -> list[Change]:
        """A flight taken off sale: its fares go with it, each delete followed by a tombstone."""
        flight = self._open_flight(now) if self._above_size("flights") else None
        if flight is None:
            return []
        self._forget_flight(flight["flight_id"])
        changes = self._delete("flights", flight, "withdrawn_flight")
        fares = self.world.rows["fares"]
        for fare_id in self.world.fares_by_flight.pop(flight["flight_id"], []):
            if fare_id in fares:
                changes += self._delete("fares", fares[fare_id], "withdrawn_fare")
        return changes

    def _forget_flight(self, flight_id: str) -> None:
        """Drop a withdrawn flight from the generator's indexes (not its fares, yet)."""
        world = self.world
        world.route_of_flight.pop(flight_id, None)
        first = world.first_departure.pop(flight_id)
        index = bisect.bisect_left(world.departures, (first, flight_id))
        if index < len(world.departures) and world.departures[index] == (first, flight_id):
            del world.departures[index]

    # -- hotel changes ----------------------------------------------------------------------

    def _rate_move(self, now: datetime) -> list[Change]:
        rate = self._future_rate(now)
        hotel = self.world.rows["hotels"].get(rate["hotel_id"]) if rate else None
        if rate is None or hotel is None:
            return []
        base = rate_base(hotel, date.fromisoformat(rate["night"]), rate["room_type"])
        amount = self._walk(float(rate["amount"]), base, (0.03, 0.15))
        return self._update("hotel_rates", rate, "rate_move", amount=money(amount))

    def _availability(self, now: datetime) -> list[Change]:
        rate = self._future_rate(now)
        if rate is None:
            return []
        # Bookings outnumber cancellations.
        rooms = max(0, rate["rooms_available"] + self.rng.choice((-3, -2, -1, -1, -1, 1, 1, 2)))
        if rooms == rate["rooms_available"]:
            return []
        return self._update("hotel_rates", rate, "availability", rooms_available=rooms)

    def _new_rate(self, now: datetime) -> list[Change]:
        """A rate loaded for a night from today to a month past the horizon, not yet on sale."""
        hotel = self._random_row("hotels")
        if hotel is None or not self._below_size("hotel_rates"):
            return []
        first = max(now.date(), self.world.start)
        span = (self.world.start - first).days + self.world.days + 30
        for _ in range(PICK_TRIES):
            night = first + timedelta(days=self.rng.randrange(max(1, span)))
            rate = rate_row(hotel, night, self.rng.choice(ROOM_TYPES), self.rng)
            if rate["rate_id"] not in self.world.rows["hotel_rates"]:
                self.world.put("hotel_rates", rate["rate_id"], rate)
                return [self._emit("hotel_rates", "c", None, rate, "new_rate")]
        return []

    def _withdrawn_rate(self, now: datetime) -> list[Change]:
        rate = self._future_rate(now) if self._above_size("hotel_rates") else None
        return self._delete("hotel_rates", rate, "withdrawn_rate") if rate else []

    def _hotel_update(self, now: datetime) -> list[Change]:
        hotel = self._random_row("hotels")
        if hotel is None:
            return []
        amenity = self.rng.choice(AMENITIES)
        extras = set(hotel["amenities"]) ^ {amenity}  # toggled
        return self._update(
            "hotels", hotel, "hotel_update", amenities=["wifi", *sorted(extras - {"wifi"})]
        )
