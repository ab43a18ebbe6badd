from __future__ import annotations

from django.urls import path

from exports import views

app_name = "exports"
urlpatterns = [
    path("staff/exports/", views.staff_exports, name="staff"),
    path("staff/exports/start", views.staff_export_start, name="start"),
    path("staff/exports/<uuid:run_id>/", views.staff_export_progress, name="progress"),
    path("staff/exports/<uuid:run_id>/download", views.staff_export_download, name="download"),
]
