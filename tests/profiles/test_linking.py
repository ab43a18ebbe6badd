"""Linking a sign-in to a profile shows what the traveller proved, and nothing else: the
boarding-pass attack, the loyalty link's confirmation email, the limits on attempts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.core.cache import cache
from django.test import Client

from chat.context import turn_context
from profiles.models import ProfileLink
from profiles.selectors import profile_for_user
from profiles.services import LINK_LIMITS
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import booking_row, customer_event, customer_row, member_row

pytestmark = pytest.mark.django_db
VICTIM = ("Ana Silva", "ana.silva@example.com", "7700 900123", "48210", "X7K2PQ", "TB-100200300")


@pytest.fixture(autouse=True)
def fresh_throttles() -> None:
    cache.clear()


def victim() -> None:
    """Ana: a CRM customer, a gold loyalty member with 48,210 points, a trip to New York."""
    customers_apply([customer_event("crm", customer_row(), key="C-1001", lsn=10)])
    members_apply([customer_event("loyalty", member_row(), key="TB-100200300", lsn=10)])
    bookings_apply([customer_event("booking", booking_row(), key="X7K2PQ", lsn=10)])


def strangers_booking() -> None:
    """Eve books with her own email and Ana's loyalty number (booking flows do not check it)."""
    row = booking_row(email="eve@example.com", phone="+44 7700 900999", member_id="TB-100200300")
    bookings_apply([customer_event("booking", row, key="EVE001", lsn=1)])


def signed_in(username: str, **extra: Any) -> tuple[Client, User]:
    client = Client(**extra)
    user = User.objects.create_user(username, email=f"{username}@example.com")
    client.force_login(user)
    return client, user


def confirm_link_in(message: Any) -> str:
    match = re.search(r"http://testserver(/profile/link/email/\S+)", str(message.body))
    assert match is not None
    return match.group(1)


def leaked(text: str) -> list[str]:
    return [value for value in VICTIM if value in text]


def test_a_stranger_with_a_victims_loyalty_number_and_own_booking_sees_nothing_of_the_victim(
    django_capture_on_commit_callbacks: Any,
) -> None:
    victim()
    strangers_booking()
    client, eve = signed_in("eve")
    page = client.post(
        "/profile/link/loyalty",
        {"member_id": "TB-100200300", "booking_ref": "EVE001"},
        follow=True,
    ).content.decode()
    # The confirmation goes to Ana's own address; Eve learns only its masked form.
    assert mail.outbox[-1].to == ["ana.silva@example.com"]
    assert not ProfileLink.objects.exists()
    assert leaked(page.replace("TB-100200300", "")) == []
    # Eve cannot open the link (it is Ana's mail); even guessing it, Ana's click is not Eve's.
    ana_client, _ = signed_in("ana")
    with django_capture_on_commit_callbacks(execute=True):
        ana_client.get(confirm_link_in(mail.outbox[-1]))
    assert not ProfileLink.objects.filter(user=eve).exists()
    # Eve links what she can prove, her own email: that shows no person (she has no account).
    client.post("/profile/link/email", {"email": "eve@example.com"})
    with django_capture_on_commit_callbacks(execute=True):
        client.get(confirm_link_in(mail.outbox[-1]))
    assert ProfileLink.objects.get(user=eve).value == "eve@example.com"
    assert leaked(client.get("/profile/").content.decode().replace("TB-100200300", "")) == []
    assert profile_for_user(user=eve) is None
    context = turn_context(user=eve, conversation=None, message="show my trips and points")
    assert context.profile is None
    assert leaked(context.grounding_text()) == []


def test_a_stranger_with_an_account_of_her_own_sees_only_herself() -> None:
    victim()
    customers_apply(
        [
            customer_event(
                "crm",
                customer_row(email="eve@example.com", phone=None, first_name="Eve"),
                key="C-EVE",
                lsn=1,
            )
        ]
    )
    strangers_booking()
    _, eve = signed_in("eve")
    ProfileLink.objects.create(user=eve, kind="email", value="eve@example.com", method="email")
    profile = profile_for_user(user=eve)
    assert profile is not None and [r.id for r in profile.records] == ["C-EVE"]
    context = turn_context(user=eve, conversation=None, message="show my trips and points")
    assert leaked(context.grounding_text()) == []


def test_an_email_that_is_the_own_email_of_several_people_shows_nobody() -> None:
    for n in range(4):  # an office address on four accounts: a hub, four people
        row = customer_row(email="office@example.com", phone=None, first_name=f"P{n}")
        customers_apply([customer_event("crm", row, key=f"C-{n}", lsn=1)])
    _, user = signed_in("office")
    ProfileLink.objects.create(user=user, kind="email", value="office@example.com")
    assert profile_for_user(user=user) is None


def test_a_confirmation_link_is_for_the_traveller_who_asked_and_works_once(
    django_capture_on_commit_callbacks: Any,
) -> None:
    victim()
    client, ana = signed_in("ana")
    client.post("/profile/link/loyalty", {"member_id": "TB-100200300", "booking_ref": "X7K2PQ"})
    link = confirm_link_in(mail.outbox[-1])
    assert "ana" in str(mail.outbox[-1].body) and "TB-100200300" in str(mail.outbox[-1].body)
    with django_capture_on_commit_callbacks(execute=True):
        client.get(link)
    assert ProfileLink.objects.get(user=ana).value == "TB-100200300"
    assert mail.outbox[-1].subject == "A travelbot sign-in was linked to your records"
    assert "used already" in client.get(link, follow=True).content.decode()


def test_a_member_without_an_email_cannot_be_linked_by_number() -> None:
    members_apply([customer_event("loyalty", member_row(email=None), key="TB-9", lsn=1)])
    bookings_apply([customer_event("booking", booking_row(member_id="TB-9"), key="B9B9B9", lsn=1)])
    client, _ = signed_in("someone")
    page = client.post(
        "/profile/link/loyalty", {"member_id": "TB-9", "booking_ref": "B9B9B9"}
    ).content.decode()
    assert "no email address" in page and not mail.outbox


def test_link_attempts_on_one_loyalty_number_are_limited_across_sign_ins() -> None:
    victim()
    limit = LINK_LIMITS["member"]
    for n in range(limit):
        client, _ = signed_in(f"guesser{n}", REMOTE_ADDR=f"10.0.0.{n}")
        client.post("/profile/link/loyalty", {"member_id": "TB-100200300", "booking_ref": "X7K2PQ"})
    assert len(mail.outbox) == limit
    client, _ = signed_in("one-more", REMOTE_ADDR="10.0.1.1")
    page = client.post(
        "/profile/link/loyalty", {"member_id": "TB-100200300", "booking_ref": "X7K2PQ"}
    ).content.decode()
    assert "Too many attempts" in page and len(mail.outbox) == limit


def test_link_attempts_from_one_client_address_are_limited_across_sign_ins() -> None:
    limit = LINK_LIMITS["client"]
    for n in range(limit):
        client, _ = signed_in(f"bot{n}", REMOTE_ADDR="203.0.113.9")
        client.post("/profile/link/loyalty", {"member_id": f"TB-{n}", "booking_ref": "AAAAAA"})
    client, _ = signed_in("bot-last", REMOTE_ADDR="203.0.113.9")
    page = client.post(
        "/profile/link/loyalty", {"member_id": "TB-X", "booking_ref": "AAAAAA"}
    ).content.decode()
    assert "Too many attempts" in page
    elsewhere, _ = signed_in("neighbour", REMOTE_ADDR="203.0.113.10")
    page = elsewhere.post(
        "/profile/link/loyalty", {"member_id": "TB-X", "booking_ref": "AAAAAA"}
    ).content.decode()
    assert "Too many attempts" not in page


def test_the_attempt_counter_counts_every_attempt_even_when_its_window_is_recreated() -> None:
    """add + incr: an attempt made while another is counting is counted too (no lost
    update as with get-then-set), and the counter starts again after it expires."""
    from profiles.services import _attempt_count

    assert [_attempt_count("user", "42") for _ in range(3)] == [1, 2, 3]
    cache.delete("profiles:link-attempts:user:42")
    assert _attempt_count("user", "42") == 1
