"""Exit 1, naming each one, when a stream is down or halted: a worker's health check.

`manage.py streams_check --local` checks the streams this worker runs (WORKER_STREAMS)
against the runners of this host only; without it, every registered stream is checked.
"""

from __future__ import annotations

import socket
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from travelbot.selectors import streams_down
from travelbot.streams.registry import streams_selected


class Command(BaseCommand):
    help = "Exit 1 when a stream has no live runner or is halted, with the reason."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--local", action="store_true", help="this worker's streams and runners only"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["local"]:
            names = [spec.name for spec in streams_selected(list(settings.WORKER_STREAMS))]
            down = streams_down(names=names, host=socket.gethostname())
        else:
            down = streams_down()
        for name, reason in sorted(down.items()):
            self.stderr.write(f"{name} {reason}")
        if down:
            raise SystemExit(1)
        self.stdout.write("every stream has a live runner")
