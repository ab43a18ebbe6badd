"""Apply the identity rules afresh to every stored record: `manage.py resolve_identities`."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from profiles.identity import identities_resolve_all


class Command(BaseCommand):
    help = (
        "Re-resolve every customer record into profiles by the current identity rules "
        "(run once after the rules change; the streams keep resolving meanwhile)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            profiles = identities_resolve_all()
        self.stdout.write(f"{profiles} profile(s) resolved")
