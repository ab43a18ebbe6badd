from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PlacesConfig(AppConfig):
    name = "places"
    verbose_name = "reference places"

    def ready(self) -> None:
        post_migrate.connect(_load_reference_after_migrate, sender=self)


def _load_reference_after_migrate(using: str, **_: Any) -> None:
    """Reference data follows the installed package, the way Django's content types follow
    the installed models: a `migrate` after an upgrade of `airportsdata` loads its release."""
    from places.services import airports_load

    airports_load(using=using)
