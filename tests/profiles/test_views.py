"""Linking a traveller to their profile, "My profile", staff pages and the staff API."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail, signing
from django.core.cache import cache
from django.test import Client

from inventory.streams import flights_apply
from profiles.models import ProfileLink
from profiles.services import SIGNING_SALT
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import (
    as_change,
    booking_row,
    customer_event,
    customer_row,
    envelope,
    flight_row,
    member_row,
)
from travelbot.streams import contract

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttles() -> None:
    cache.clear()


def ana() -> None:
    customers_apply([customer_event("crm", customer_row(), key="C-1001", lsn=10)])
    members_apply([customer_event("loyalty", member_row(), key="TB-100200300", lsn=10)])
    bookings_apply([customer_event("booking", booking_row(), key="X7K2PQ", lsn=10)])


def bo() -> None:
    row = customer_row(email="bo.canary@example.com", phone="+44 7700 900777", first_name="Bo")
    customers_apply([customer_event("crm", row, key="C-2002", lsn=10)])


def signed_in(username: str, **extra: Any) -> Client:
    client = Client()
    client.force_login(User.objects.create_user(username, email=f"{username}@example.com", **extra))
    return client


def emailed_link() -> str:
    match = re.search(r"http://testserver(/profile/link/email/\S+)", str(mail.outbox[-1].body))
    assert match is not None
    return match.group(1)


def test_a_traveller_links_their_profile_with_a_verified_email() -> None:
    ana()
    client = signed_in("ana")
    client.post("/profile/link/email", {"email": "Ana.Silva@example.com"})
    assert mail.outbox[-1].to == ["ana.silva@example.com"]
    page = client.get(emailed_link(), follow=True).content.decode()
    assert "Your email is confirmed" in page
    assert "Ana Silva" in page and "X7K2PQ" in page and "gold" in page


def test_a_verification_link_works_once() -> None:
    client = signed_in("ana")
    client.post("/profile/link/email", {"email": "ana.silva@example.com"})
    link = emailed_link()
    client.get(link)
    assert "has been used already" in client.get(link, follow=True).content.decode()


def test_a_forged_or_foreign_verification_link_is_refused() -> None:
    owner = signed_in("ana")
    owner.post("/profile/link/email", {"email": "ana.silva@example.com"})
    link = emailed_link()
    thief = signed_in("mallory")
    assert "not valid" in thief.get(link, follow=True).content.decode()
    forged = link[:-3] + ("aaa" if not link.endswith("aaa") else "bbb")
    assert "not valid" in owner.get(forged, follow=True).content.decode()
    assert not ProfileLink.objects.exists()


def test_an_expired_verification_link_is_refused(settings: Any) -> None:
    client = signed_in("ana")
    client.post("/profile/link/email", {"email": "ana.silva@example.com"})
    token = emailed_link().rsplit("/", 1)[1]
    value = signing.TimestampSigner(salt=SIGNING_SALT).unsign(token)
    old = signing.TimestampSigner(salt=SIGNING_SALT)
    stale_token = old.sign(value)
    settings.PROFILE_LINK_MAX_AGE_S = -1  # every signature is older than that
    page = client.get(f"/profile/link/email/{stale_token}", follow=True).content.decode()
    assert "has expired" in page and not ProfileLink.objects.exists()


def test_a_loyalty_number_and_a_booking_link_only_once_the_members_own_email_confirms(
    django_capture_on_commit_callbacks: Any,
) -> None:
    ana()
    client = signed_in("ana")
    page = client.post(
        "/profile/link/loyalty",
        {"member_id": "TB-100200300", "booking_ref": "x7k2pq"},
        follow=True,
    ).content.decode()
    assert "a***@example.com" in page and "Ana Silva" not in page
    assert not ProfileLink.objects.exists()
    assert mail.outbox[-1].to == ["ana.silva@example.com"]  # the member's own address
    with django_capture_on_commit_callbacks(execute=True):
        page = client.get(emailed_link(), follow=True).content.decode()
    assert "Your loyalty account and bookings are linked" in page and "Ana Silva" in page
    assert ProfileLink.objects.get().method == "loyalty"
    notice = mail.outbox[-1]
    assert notice.to == ["ana.silva@example.com"] and '"ana"' in str(notice.body)


def test_a_booking_of_someone_else_does_not_link_and_attempts_are_limited() -> None:
    ana()
    bookings_apply(
        [
            customer_event(
                "booking",
                booking_row(email="bo@example.com", member_id=None),
                key="ZZ9ZZ9",
                lsn=1,
            )
        ]
    )
    client = signed_in("mallory")
    for _ in range(5):
        page = client.post(
            "/profile/link/loyalty",
            {"member_id": "TB-100200300", "booking_ref": "ZZ9ZZ9"},
            follow=True,
        ).content.decode()
        assert "could not match" in page
        assert 'value="TB-100200300"' in page  # shown again as typed, to correct
    page = client.post(
        "/profile/link/loyalty", {"member_id": "TB-100200300", "booking_ref": "X7K2PQ"}, follow=True
    ).content.decode()
    assert "Too many attempts" in page and not ProfileLink.objects.exists()
    assert not mail.outbox


def test_a_traveller_sees_only_their_own_profile_and_can_unlink() -> None:
    ana()
    bo()
    client = signed_in("ana")
    ProfileLink.objects.create(
        user=User.objects.get(username="ana"), kind="email", value="ana.silva@example.com"
    )
    page = client.get("/profile/").content.decode()
    assert "Ana Silva" in page and "bo.canary" not in page and "C-2002" not in page
    client.post("/profile/unlink")
    assert "Link with your email" in client.get("/profile/").content.decode()


def test_a_travellers_trips_show_local_times_at_each_airport() -> None:
    ana()
    flight = flight_row()  # LHR 08:25Z to JFK 16:40Z on 1 December
    flights_apply([as_change("flight_id", flight["flight_id"], envelope("c", flight, lsn=1),
                             contract.FLIGHTS)])  # fmt: skip
    client = signed_in("ana")
    ProfileLink.objects.create(
        user=User.objects.get(username="ana"), kind="email", value="ana.silva@example.com"
    )
    page = client.get("/profile/").content.decode()
    assert "departs Tue 01 Dec 08:25 GMT, arrives 11:40 EST" in page


@pytest.mark.parametrize(
    "path",
    ["/staff/profiles/", "/staff/profiles/crm:C-1001/", "/staff/profiles/erasures"],
)
def test_staff_pages_refuse_travellers_and_send_visitors_to_log_in(path: str) -> None:
    ana()
    assert signed_in("ana").get(path).status_code == 403
    response = Client().get(path)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_traveller_cannot_erase_anyone() -> None:
    ana()
    response = signed_in("mallory").post(
        "/staff/profiles/crm:C-1001/erase", {"confirm": "crm:C-1001"}
    )
    assert response.status_code == 403


def test_the_api_is_for_staff_only() -> None:
    assert Client().get("/api/profiles?email=a@b.co").status_code == 401
    assert signed_in("ana").get("/api/profiles?email=a@b.co").status_code == 403


def test_staff_find_a_profile_by_any_spelling_of_an_identifier() -> None:
    ana()
    staff = signed_in("ops", is_staff=True)
    for query in (
        "email=%20ANA.SILVA@example.com",
        "phone=07700%20900123",
        "customer_id=C-1001",
        "member_id=TB-100200300",
        "booking_ref=X7K2PQ",
    ):
        body = staff.get(f"/api/profiles?{query}").json()
        assert body["profile_id"] == "crm:C-1001", query
    assert {(r["source"], r["id"]) for r in body["records"]} == {
        ("crm", "C-1001"),
        ("loyalty", "TB-100200300"),
        ("booking", "X7K2PQ"),
    }
    assert (
        "loyalty TB-100200300 joined via email ana.silva@example.com to crm C-1001: "
        "the same own account email (strong)" in body["explanation"]
    )


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("email=a@b.co&phone=123", 400),
        ("name=Ana", 400),
        ("email=not-an-email", 400),
        ("email=nobody@example.com", 404),
    ],
)
def test_the_api_answers_bad_queries_with_400_and_unknown_people_with_404(
    query: str, status: int
) -> None:
    staff = signed_in("ops", is_staff=True)
    response = staff.get(f"/api/profiles?{query}")
    assert response.status_code == status and "error" in response.json()


def test_staff_erase_a_profile_from_its_page() -> None:
    ana()
    staff = signed_in("ops", is_staff=True)
    assert "Erase this person" in staff.get("/staff/profiles/crm:C-1001/").content.decode()
    page = staff.post(
        "/staff/profiles/crm:C-1001/erase", {"confirm": "crm:C-1001"}, follow=True
    ).content.decode()
    assert "Erased 3 record(s)" in page
    assert staff.get("/api/profiles?customer_id=C-1001").status_code == 404


def test_confirmation_emails_are_limited_per_traveller(settings: Any) -> None:
    settings.EMAIL_LINKS_PER_HOUR = 2
    client = signed_in("ana")
    for _ in range(2):
        client.post("/profile/link/email", {"email": "ana.silva@example.com"})
    refused = client.post("/profile/link/email", {"email": "ana.silva@example.com"})
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert len(mail.outbox) == 2
