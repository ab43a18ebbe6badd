"""Run one registered stream in the foreground: `python manage.py consume inventory.flights`."""

from __future__ import annotations

import signal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from travelbot.streams.registry import registered_streams, stream_named
from travelbot.streams.runtime import RuntimeConfig
from travelbot.streams.supervisor import StreamSupervisor


class Command(BaseCommand):
    help = (
        "Consume one stream until SIGTERM/SIGINT, which finish the batch, commit and close. "
        "Failures are recorded and the runner restarted, as in a worker."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("stream", nargs="?", help="stream name, e.g. inventory.flights")
        parser.add_argument("--list", action="store_true", help="list the registered streams")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list"] or not options["stream"]:
            for name, spec in sorted(registered_streams().items()):
                self.stdout.write(
                    f"{name}\ttopic={spec.topic}\tgroup={spec.group}\tdlq={spec.dlq_topic}"
                )
            return
        try:
            spec = stream_named(options["stream"])
        except KeyError as exc:
            raise CommandError(str(exc.args[0])) from None
        supervisor = StreamSupervisor(spec, RuntimeConfig.from_settings())
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: supervisor.stop())
        supervisor.run()
