"""The simulator's options and the command line that fills them (`python -m simulator`)."""

from __future__ import annotations

import pytest

from simulator.__main__ import argument_parser, options_from
from simulator.changes import Faults
from simulator.options import SimulatorOptions


def parsed(*arguments: str) -> SimulatorOptions:
    return options_from(argument_parser().parse_args(arguments))


def test_scale_shrinks_routes_cities_and_hotels() -> None:
    spec = SimulatorOptions(scale=0.1, days=3).world_spec
    assert (spec.days, spec.routes, spec.cities, spec.hotels_per_city) == (3, 30, 2, (1, 2))


def test_no_arguments_give_the_default_options() -> None:
    assert parsed() == SimulatorOptions()


def test_every_argument_sets_its_option() -> None:
    options = parsed(
        *("--seed", "3", "--scale", "0.5", "--days", "4", "--routes", "9", "--cities", "2"),
        *("--hotels-per-city", "3-5", "--customers", "10", "--rate", "0", "--duration", "1.5"),
        *("--no-snapshot", "--duplicate-ratio", "0.1", "--replay-ratio", "0.2"),
        *("--tombstone-ratio", "0.3", "--malformed-ratio", "0.4"),
    )
    assert options == SimulatorOptions(
        seed=3,
        scale=0.5,
        days=4,
        routes=9,
        cities=2,
        hotels_per_city=(3, 5),
        customers=10,
        rate=0.0,
        duration_s=1.5,
        snapshot=False,
        faults=Faults(0.1, 0.2, 0.3, 0.4),
    )


@pytest.mark.parametrize(
    "arguments",
    [("--days", "0"), ("--hotels-per-city", "5-3"), ("--malformed-ratio", "1.5")],
)
def test_out_of_range_arguments_are_rejected(arguments: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit):
        argument_parser().parse_args(arguments)


def test_scale_grows_places_routes_and_cities_but_not_hotels_per_city() -> None:
    spec = SimulatorOptions(scale=10).world_spec
    assert (spec.airports, spec.carriers, spec.routes, spec.cities) == (400, 100, 3000, 250)
    assert (spec.days, spec.hotels_per_city) == (60, (10, 20))


def test_scale_multiplies_the_people() -> None:
    assert SimulatorOptions(scale=10, customers=5000).people == 50_000
    assert SimulatorOptions(scale=10).people == 0
