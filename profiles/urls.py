from __future__ import annotations

from django.urls import path

from profiles import views

app_name = "profiles"
urlpatterns = [
    path("profile/", views.my_profile, name="mine"),
    path("profile/link/email", views.link_email, name="link_email"),
    path("profile/link/email/<str:token>", views.confirm_email, name="confirm"),
    path("profile/link/loyalty", views.link_loyalty, name="link_loyalty"),
    path("profile/unlink", views.unlink, name="unlink"),
    path("profile/export-consent", views.export_consent, name="export_consent"),
    path("staff/profiles/", views.staff_search, name="staff_search"),
    path("staff/profiles/erasures", views.staff_erasures, name="erasures"),
    path("staff/profiles/erasures/<uuid:erasure>/lift", views.staff_lift, name="lift"),
    path("staff/profiles/<str:profile_id>/", views.staff_detail, name="staff_detail"),
    path("staff/profiles/<str:profile_id>/erase", views.staff_erase, name="staff_erase"),
    path("api/profiles", views.profiles_api, name="api"),
]
