from __future__ import annotations

from django.contrib import admin

from exports.models import ExportConsent, ExportRun, ExportWatermark


@admin.register(ExportConsent)
class ExportConsentAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "granted", "changed_at")


@admin.register(ExportRun)
class ExportRunAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("created_at", "format", "destination", "status", "rows_done", "rows_total")


@admin.register(ExportWatermark)
class ExportWatermarkAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("format", "destination", "exported_through")
