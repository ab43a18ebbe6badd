from __future__ import annotations

from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"

    def ready(self) -> None:
        from exports.services import export_consent_erase
        from profiles.privacy import erasure_hook_register

        erasure_hook_register(export_consent_erase)
