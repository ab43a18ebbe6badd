"""The unified profile as a chat turn reads it: fields, conflicts, trips, explanations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User

from inventory.streams import flights_apply, hotels_apply
from profiles.models import ProfileLink
from profiles.selectors import profile_for_user, profile_get
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import (
    as_change,
    booking_row,
    customer_event,
    customer_row,
    envelope,
    flight_row,
    hotel_row,
    member_row,
)
from travelbot.streams import contract

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def ana(**crm: Any) -> None:
    customers_apply([customer_event("crm", customer_row(**crm), key="C-1001", lsn=10)])
    members_apply([customer_event("loyalty", member_row(), key="TB-100200300", lsn=10)])
    bookings_apply([customer_event("booking", booking_row(), key="X7K2PQ", lsn=10)])


def live_inventory(*, status: str = "delayed", gate: str | None = "B7") -> None:
    flight = flight_row(status=status, gate=gate)
    flights_apply(
        [
            as_change(
                "flight_id", flight["flight_id"], envelope("u", flight, lsn=77), contract.FLIGHTS
            )
        ]
    )
    hotel = hotel_row()
    hotels_apply(
        [as_change("hotel_id", hotel["hotel_id"], envelope("r", hotel, lsn=5), contract.HOTELS)]
    )


def test_the_profile_joins_all_three_sources_with_when_each_changed() -> None:
    ana()
    profile = profile_get(profile_id="crm:C-1001", now=NOW)
    assert profile is not None
    assert [(r.source, r.id) for r in profile.records] == [
        ("crm", "C-1001"),
        ("loyalty", "TB-100200300"),
        ("booking", "X7K2PQ"),
    ]
    assert all(record.as_of.year == 2026 for record in profile.records)
    assert (profile.name.value, profile.email.value, profile.phone.value) == (  # type: ignore[union-attr]
        "Ana Silva",
        "ana.silva@example.com",
        "+447700900123",
    )
    assert profile.preferences["seat"].value == "aisle"
    assert profile.loyalty is not None and profile.loyalty.data["tier"] == "gold"


def test_the_most_recently_changed_record_wins_a_field_and_the_loser_is_kept() -> None:
    ana()
    members_apply(
        [customer_event("loyalty", member_row(phone="+44 7700 900999"), key="TB-100200300", lsn=99)]
    )
    profile = profile_get(profile_id="crm:C-1001", for_staff=True)
    assert profile is not None and profile.phone is not None
    assert (profile.phone.value, profile.phone.source) == ("+447700900999", "loyalty")
    assert [c.value for c in profile.conflicts["phone"]] == ["+447700900123"]


def test_a_booking_naming_the_person_never_lends_them_its_contact_email_or_phone() -> None:
    ana()
    stranger = booking_row("ZZ9ZZ9", email="stranger@example.org", phone="+44 7700 900555")
    bookings_apply([customer_event("booking", stranger, key="ZZ9ZZ9", lsn=99)])
    profile = profile_get(profile_id="crm:C-1001", for_staff=True)
    assert profile is not None and profile.email is not None and profile.phone is not None
    assert "booking:ZZ9ZZ9" in {f"{r.source}:{r.id}" for r in profile.records}
    assert (profile.email.value, profile.phone.value) == ("ana.silva@example.com", "+447700900123")
    assert "email" not in profile.conflicts and "phone" not in profile.conflicts


def test_a_person_with_only_bookings_shows_their_contact_email() -> None:
    guest = booking_row("GU3ST1", email="guest@example.org", member_id=None)
    bookings_apply([customer_event("booking", guest, key="GU3ST1", lsn=5)])
    profile = profile_get(profile_id="booking:GU3ST1")
    assert profile is not None and profile.email is not None
    assert profile.email.value == "guest@example.org"


def test_crm_wins_a_tie() -> None:
    customers_apply([customer_event("crm", customer_row(phone=None), key="C-1", lsn=10)])
    members_apply(
        [
            customer_event(
                "loyalty", member_row(email="ana.silva@example.com", phone=None), key="M-1", lsn=10
            )
        ]
    )
    customers_apply(
        [
            customer_event(
                "crm", customer_row(email="ana.silva@example.com", phone=None), key="C-1", lsn=10
            )
        ]
    )
    profile = profile_get(profile_id="crm:C-1")
    assert profile is not None and profile.email is not None and profile.email.source == "crm"


def test_upcoming_trips_carry_the_live_flight_status_gate_and_hotel() -> None:
    ana()
    live_inventory(status="delayed", gate="B7")
    profile = profile_get(profile_id="crm:C-1001", now=NOW)
    assert profile is not None
    [trip] = profile.upcoming
    flight, hotel = trip.items
    assert (flight.detail["status"], flight.detail["gate"], flight.detail["version"]) == (
        "delayed",
        "B7",
        77,
    )
    assert hotel.detail["name"] == "Hudson Park Hotel"
    assert profile.past == [] and profile.cancelled == []


def test_a_finished_trip_is_past_and_a_cancelled_booking_is_listed_apart() -> None:
    ana()
    live_inventory()
    bookings_apply(
        [
            customer_event("booking", booking_row(status="completed"), key="X7K2PQ", lsn=11),
            customer_event("booking", booking_row(status="cancelled"), key="Q1W2E3", lsn=1),
        ]
    )
    later = datetime(2026, 12, 10, tzinfo=UTC)
    profile = profile_get(profile_id="crm:C-1001", now=later)
    assert profile is not None
    assert [t.booking_ref for t in profile.past] == ["X7K2PQ"]
    assert [t.booking_ref for t in profile.cancelled] == ["Q1W2E3"]


def test_the_explanation_says_which_identifier_and_rule_join_each_record() -> None:
    ana()
    profile = profile_get(profile_id="crm:C-1001")
    assert profile is not None
    assert profile.explanation == [
        "loyalty TB-100200300 joined via email ana.silva@example.com to crm C-1001: "
        "the same own account email (strong)",
        "booking X7K2PQ joined via member id TB-100200300 to loyalty TB-100200300: "
        "the booking's own account (strong)",
    ]


def test_staff_see_the_edges_the_rules_refused_and_travellers_do_not() -> None:
    ana()
    stranger = booking_row(email="mallory@example.com", member_id="TB-100200300")
    customers_apply(
        [
            customer_event(
                "crm", customer_row(email="mallory@example.com", phone=None), key="C-66", lsn=1
            )
        ]
    )
    bookings_apply([customer_event("booking", stranger, key="EVIL01", lsn=1)])
    staff_view = profile_get(profile_id="crm:C-1001", for_staff=True)
    assert staff_view is not None
    assert (
        "refused: booking EVIL01 email mallory@example.com: the own email of another person's "
        "account: not used, the booking names its own" in staff_view.explanation
    )
    traveller_view = profile_get(profile_id="crm:C-1001")
    assert traveller_view is not None
    assert not any(line.startswith("refused") for line in traveller_view.explanation)


def test_a_chat_turn_reads_the_travellers_profile_in_two_queries(
    django_assert_num_queries: Any,
) -> None:
    ana()
    live_inventory()
    user = User.objects.create_user("ana")
    ProfileLink.objects.create(user=user, kind="email", value="ana.silva@example.com")
    with django_assert_num_queries(2):
        profile = profile_for_user(user=user, now=NOW)
    assert profile is not None and profile.profile_id == "crm:C-1001"


def test_a_traveller_without_a_link_has_no_profile() -> None:
    ana()
    assert profile_for_user(user=User.objects.create_user("someone")) is None
