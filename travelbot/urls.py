from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from travelbot import views
from travelbot.limits import log_in_limits, posts_throttled

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("metrics", views.metrics, name="metrics"),
    path("api/streams/status", views.streams_status_api, name="streams_status_api"),
    path("api/inventory/", include("inventory.urls")),
    path("api/feedback/", include("feedback.urls")),
    path("staff/streams/", views.streams_page, name="staff_streams"),
    path("staff/feedback/", include("feedback.staff_urls")),
    path(
        "staff/streams/<str:stream>/replay",
        views.dead_letters_replay_view,
        name="dead_letters_replay",
    ),
    path("staff/streams/<str:stream>/resume", views.stream_resume_view, name="stream_resume"),
    path(
        "staff/streams/<str:stream>/log-reset/dismiss",
        views.stream_log_reset_dismiss_view,
        name="stream_log_reset_dismiss",
    ),
    path("", include("exports.urls")),
    path("", include("profiles.urls")),
    path("", include("knowledge.urls")),
    # /admin/'s log-in counts attempts as the site's does.
    path("admin/login/", posts_throttled(log_in_limits)(admin.site.login)),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls")),
    path("", include("chat.urls")),
]
