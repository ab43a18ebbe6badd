from __future__ import annotations

from django.urls import path

from inventory import views

app_name = "inventory"
urlpatterns = [
    path("flights", views.flight_search, name="flight_search"),
    path("flights/<str:flight_id>", views.flight_detail, name="flight_detail"),
    path("fares/<str:fare_id>", views.fare_detail, name="fare_detail"),
    path("hotels", views.hotel_search, name="hotel_search"),
    path("hotels/<str:hotel_id>", views.hotel_detail, name="hotel_detail"),
    path("hotel_rates/<str:rate_id>", views.hotel_rate_detail, name="hotel_rate_detail"),
]
