"""Write the stream contract's JSON Schema, generated from the typed structs the decoders use."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from travelbot.streams.contract import json_schema

DEFAULT_PATH = Path(settings.BASE_DIR) / "docs" / "streams.schema.json"


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


class Command(BaseCommand):
    help = "Write docs/streams.schema.json from travelbot/streams/contract.py."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, default=DEFAULT_PATH)

    def handle(self, *args: Any, **options: Any) -> None:
        options["output"].write_text(schema_text())
        self.stdout.write(f"wrote {options['output']}")
