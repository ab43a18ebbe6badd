from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from exports.destinations import DestinationError
from exports.models import ExportFormat, ExportRun
from exports.services import export_create, export_run


class Command(BaseCommand):
    help = (
        "Export consented, rated turns, scrubbed of personal data, changed since the last "
        "successful export to the same destination: fine-tuning JSONL or Parquet by date."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", required=True, choices=ExportFormat.values)
        parser.add_argument("--to", required=True, help="a directory or s3://bucket/prefix")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            run = export_create(format=options["format"], to=options["to"])
        except DestinationError as exc:
            raise CommandError(str(exc)) from exc
        run = export_run(run_id=run.id)
        if run.status != ExportRun.Status.DONE:
            raise CommandError(f"export failed: {run.error}")
        self.stdout.write(f"{run.rows_done} row(s) exported to {run.destination}")
        for path in run.files:
            self.stdout.write(f"  {path}")
