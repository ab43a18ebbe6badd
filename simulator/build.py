"""The simulated source systems built in memory from options, without a broker: what
`python -m simulator` publishes, for benchmarks and tests that need a world of a given scale.

    sources = build_sources(SimulatorOptions(scale=10, customers=5000))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from simulator.changes import Change
from simulator.customers import People, customer_snapshot
from simulator.options import SimulatorOptions
from simulator.world import World, generate_world


@dataclass(frozen=True, slots=True)
class SimulatedSources:
    world: World
    people: People
    # The op r events that create the people, the demo traveller's first (none without people).
    people_snapshot: list[Change]

    def size(self) -> dict[str, int]:
        """Places, routes, the inventory tables' rows and the customer systems' records."""
        places = self.world.places
        return {
            "airports": len(places.airports),
            "carriers": len(places.carrier_hubs),
            "hotel_cities": len(places.cities),
            "routes": len(self.world.routes),
            **self.world.size(),
            **self.people.size(),
        }


def build_sources(options: SimulatorOptions, *, now: datetime | None = None) -> SimulatedSources:
    """The same options and `now` always give the same sources."""
    now = now or datetime.now(UTC)
    world = generate_world(options.world_spec, seed=options.seed, now=now)
    if not options.people:
        return SimulatedSources(world, People(), [])
    people, snapshot = customer_snapshot(world, count=options.people, seed=options.seed, now=now)
    return SimulatedSources(world, people, snapshot)
