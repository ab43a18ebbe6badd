from __future__ import annotations

from django.urls import path

from feedback import views

urlpatterns = [
    path("", views.dashboard_page, name="staff_feedback"),
]
