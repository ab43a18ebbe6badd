"""What a run of the simulator generates and publishes, as one value.

`python -m simulator` parses its arguments into it; tests and benchmarks build it directly.
Where the records go (the brokers, a topic prefix) is not an option of the simulation: the
publishing functions take it beside the options.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from simulator.changes import NO_FAULTS, Faults
from simulator.world import DEFAULT_SPEC, WorldSpec


@dataclass(frozen=True, slots=True)
class SimulatorOptions:
    """The defaults are those of `python -m simulator` without arguments."""

    seed: int = 7
    # The world: `scale` times the default one (see WorldSpec.scaled); a size given
    # explicitly wins over the scaled one.
    scale: float = 1.0
    days: int | None = None
    routes: int | None = None
    cities: int | None = None
    hotels_per_city: tuple[int, int] | None = None
    # People in the CRM, loyalty and booking systems at scale 1 (0: none), `scale` times as
    # many in all; any number adds the demo traveller.
    customers: int = 0
    # Change events per second (0: the snapshot only), for `duration_s` (None: until stopped).
    rate: float = 20.0
    duration_s: float | None = None
    snapshot: bool = True
    faults: Faults = NO_FAULTS

    @property
    def world_spec(self) -> WorldSpec:
        """The default spec scaled by `scale`, then any explicitly given size."""
        spec = DEFAULT_SPEC.scaled(self.scale) if self.scale != 1.0 else DEFAULT_SPEC
        return replace(
            spec,
            days=spec.days if self.days is None else self.days,
            routes=spec.routes if self.routes is None else self.routes,
            cities=spec.cities if self.cities is None else self.cities,
            hotels_per_city=(
                spec.hotels_per_city if self.hotels_per_city is None else self.hotels_per_city
            ),
        )

    @property
    def people(self) -> int:
        """The people the customer systems start with: `customers` at the options' scale."""
        return max(1, round(self.customers * self.scale)) if self.customers else 0
