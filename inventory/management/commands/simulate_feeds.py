"""Publish a simulated GDS and hotel channel manager: `python manage.py simulate_feeds`."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from inventory.simulator.changes import Faults
from inventory.simulator.publisher import SendFailed, simulate, stop_on_signals
from inventory.simulator.world import world_spec


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


class Command(BaseCommand):
    help = (
        "Publish a deterministic travel world to the inventory topics (op r), then a stream "
        "of changes at --rate events/s with optional faults. SIGINT/SIGTERM stop cleanly."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        world = parser.add_argument_group("world")
        world.add_argument("--seed", type=int, default=7)
        world.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="fraction of the default routes, cities and hotels per city",
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
            default=0,
            help="people in the simulated CRM, loyalty and booking systems (0: none); "
            "any number adds the demo traveller",
        )
        stream = parser.add_argument_group("stream")
        stream.add_argument(
            "--rate",
            type=float,
            default=20.0,
            help="change events per second; 0 publishes the snapshot and exits",
        )
        stream.add_argument("--duration", type=float, help="seconds of changes (default: forever)")
        stream.add_argument("--no-snapshot", action="store_true")
        stream.add_argument(
            "--bootstrap-servers",
            help="comma-separated host:port (default KAFKA_BOOTSTRAP_SERVERS)",
        )
        faults = parser.add_argument_group("faults (chance per change event)")
        for name in ("duplicate", "replay", "tombstone", "malformed"):
            faults.add_argument(f"--{name}-ratio", type=_ratio, default=0.0)

    def handle(self, *args: Any, **options: Any) -> None:
        stop_event = threading.Event()
        stop_on_signals(stop_event)
        try:
            self._simulate(options, stop_event)
        except SendFailed as exc:
            raise CommandError(f"{exc} (the first error of each kind is logged above)") from exc

    def _simulate(self, options: dict[str, Any], stop_event: threading.Event) -> None:
        simulate(
            bootstrap_servers=self._servers(options["bootstrap_servers"]),
            spec=world_spec(
                scale=options["scale"],
                days=options["days"],
                routes=options["routes"],
                cities=options["cities"],
                hotels_per_city=options["hotels_per_city"],
            ),
            seed=options["seed"],
            rate=options["rate"],
            duration_s=options["duration"],
            snapshot=not options["no_snapshot"],
            faults=self._faults(options),
            stop_event=stop_event,
            report=self.stdout.write,
            topic_prefix=settings.KAFKA_TOPIC_PREFIX,
            customers=options["customers"],
        )

    def _servers(self, given: str | None) -> list[str]:
        if given:
            return [server.strip() for server in given.split(",") if server.strip()]
        return list(settings.KAFKA_BOOTSTRAP_SERVERS)

    def _faults(self, options: dict[str, Any]) -> Faults:
        return Faults(
            duplicate_ratio=options["duplicate_ratio"],
            replay_ratio=options["replay_ratio"],
            tombstone_ratio=options["tombstone_ratio"],
            malformed_ratio=options["malformed_ratio"],
        )
