"""Publish a simulated GDS, hotel channel manager and customer systems: `python -m simulator`."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from collections.abc import Sequence

import django
from django.conf import settings

from simulator.changes import Faults
from simulator.options import SimulatorOptions
from simulator.publisher import SendFailed, simulate, stop_on_signals

DESCRIPTION = (
    "Publish a deterministic travel world to the inventory topics (op r), then a stream "
    "of changes at --rate events/s with optional faults. SIGINT/SIGTERM stop cleanly."
)
FAULT_KINDS = ("duplicate", "replay", "tombstone", "malformed")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _hotels_per_city(text: str) -> tuple[int, int]:
    """N or LOW-HIGH, e.g. 15 or 10-20."""
    low, _, high = text.partition("-")
    bounds = (_positive_int(low), _positive_int(high or low))
    if bounds[0] > bounds[1]:
        raise argparse.ArgumentTypeError("expected N or LOW-HIGH with LOW <= HIGH")
    return bounds


def _servers(text: str) -> list[str]:
    return [server.strip() for server in text.split(",") if server.strip()]


def argument_parser() -> argparse.ArgumentParser:
    """The arguments, one per SimulatorOptions field (the fault ratios make its Faults), plus
    the brokers; their defaults are SimulatorOptions'."""
    defaults = SimulatorOptions()
    parser = argparse.ArgumentParser(prog="python -m simulator", description=DESCRIPTION)
    world = parser.add_argument_group("world")
    world.add_argument("--seed", type=int, default=defaults.seed)
    world.add_argument(
        "--scale",
        type=float,
        default=defaults.scale,
        help="size of the world against the default one: 10 builds about ten times the "
        "airports, routes, flights, hotels and people; 0.1 about a tenth of the routes and hotels",
    )
    world.add_argument("--days", type=_positive_int, help="horizon in days (default 60)")
    world.add_argument("--routes", type=_positive_int, help="directed routes (default 300)")
    world.add_argument("--cities", type=_positive_int, help="hotel cities (default 25)")
    world.add_argument(
        "--hotels-per-city", type=_hotels_per_city, help="N or LOW-HIGH (default 10-20)"
    )
    parser.add_argument(
        "--customers",
        type=int,
        default=defaults.customers,
        help="people in the simulated CRM, loyalty and booking systems at scale 1 (0: none), "
        "--scale times as many in all; any number adds the demo traveller",
    )
    stream = parser.add_argument_group("stream")
    stream.add_argument(
        "--rate",
        type=float,
        default=defaults.rate,
        help="change events per second; 0 publishes the snapshot and exits",
    )
    stream.add_argument("--duration", type=float, help="seconds of changes (default: forever)")
    stream.add_argument("--no-snapshot", action="store_true")
    stream.add_argument(
        "--bootstrap-servers",
        type=_servers,
        help="comma-separated host:port (default KAFKA_BOOTSTRAP_SERVERS)",
    )
    faults = parser.add_argument_group("faults (chance per change event)")
    for kind in FAULT_KINDS:
        faults.add_argument(
            f"--{kind}-ratio", type=_ratio, default=getattr(defaults.faults, f"{kind}_ratio")
        )
    return parser


def options_from(arguments: argparse.Namespace) -> SimulatorOptions:
    ratios = {f"{kind}_ratio": getattr(arguments, f"{kind}_ratio") for kind in FAULT_KINDS}
    return SimulatorOptions(
        seed=arguments.seed,
        scale=arguments.scale,
        days=arguments.days,
        routes=arguments.routes,
        cities=arguments.cities,
        hotels_per_city=arguments.hotels_per_city,
        customers=arguments.customers,
        rate=arguments.rate,
        duration_s=arguments.duration,
        snapshot=not arguments.no_snapshot,
        faults=Faults(**ratios),
    )


def main(argv: Sequence[str] | None = None) -> None:
    arguments = argument_parser().parse_args(argv)
    # The simulator is no Django app, but it publishes with the product's Kafka settings and
    # logs through its logging configuration.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "travelbot.settings")
    django.setup()
    stop_event = threading.Event()
    stop_on_signals(stop_event)
    try:
        simulate(
            options_from(arguments),
            bootstrap_servers=arguments.bootstrap_servers or settings.KAFKA_BOOTSTRAP_SERVERS,
            topic_prefix=settings.KAFKA_TOPIC_PREFIX,
            stop_event=stop_event,
        )
    except SendFailed as exc:
        sys.exit(f"{exc} (the first error of each kind is logged above)")


if __name__ == "__main__":
    main()
