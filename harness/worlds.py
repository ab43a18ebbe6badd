"""A small simulated world applied straight through the stream handlers: inventory and the
customer systems, with the demo traveller. For chat and browser tests and the chat benchmark."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

from inventory.streams import fares_apply, flights_apply, hotel_rates_apply, hotels_apply
from profiles.streams import bookings_apply, customers_apply, members_apply
from simulator.changes import Change, snapshot_changes
from simulator.customers import DEMO_MEMBER_ID, customer_snapshot
from simulator.world import World, WorldSpec, generate_world
from travelbot.streams import contract
from travelbot.streams.envelope import ChangeEvent, decode_change
from travelbot.streams.kafka import encode_json

SPEC = WorldSpec(days=14, routes=60, cities=6, hotels_per_city=(2, 3))
TOPICS = {
    t.name: t
    for t in (
        contract.FLIGHTS,
        contract.FARES,
        contract.HOTELS,
        contract.HOTEL_RATES,
        contract.CUSTOMERS,
        contract.MEMBERS,
        contract.BOOKINGS,
    )
}
APPLY = {
    contract.FLIGHTS.name: flights_apply,
    contract.FARES.name: fares_apply,
    contract.HOTELS.name: hotels_apply,
    contract.HOTEL_RATES.name: hotel_rates_apply,
    contract.CUSTOMERS.name: customers_apply,
    contract.MEMBERS.name: members_apply,
    contract.BOOKINGS.name: bookings_apply,
}


@dataclass(frozen=True)
class DemoWorld:
    world: World
    customers: list[Change]
    demo_booking_ref: str


def decoded(change: Change) -> ChangeEvent:
    """The change as the runtime reads it off the wire (raises if the contract refuses it)."""
    value = None if change.value is None else encode_json(change.value)
    event = decode_change(encode_json(change.key), value, topic=TOPICS[change.topic])
    assert event is not None
    return event


def apply_all(changes: list[Change]) -> None:
    for topic, group in itertools.groupby(changes, key=lambda c: c.topic):
        APPLY[topic]([decoded(c) for c in group])


def load_demo_world(now: datetime, *, people: int = 50, seed: int = 3) -> DemoWorld:
    world = generate_world(SPEC, seed=seed, now=now)
    apply_all(list(snapshot_changes(world)))
    _, customers = customer_snapshot(world, count=people, seed=seed, now=now)
    apply_all(customers)
    demo = next(
        c
        for c in customers
        if c.topic == contract.BOOKINGS.name
        and c.value
        and c.value["after"]["member_id"] == DEMO_MEMBER_ID
    )
    return DemoWorld(world, customers, demo.key["booking_ref"])
