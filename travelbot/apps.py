from __future__ import annotations

from django.apps import AppConfig


class TravelbotConfig(AppConfig):
    name = "travelbot"
    verbose_name = "travelbot platform"
