"""The right to be forgotten: erasure, and suppressions that older and newer events meet."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from profiles import privacy
from profiles.identifiers import Identifier, identifier_hash
from profiles.models import (
    Booking,
    CrmCustomer,
    HeldEvent,
    IdentityNode,
    LoyaltyMember,
    ProfileLink,
    Suppression,
)
from profiles.privacy import Erasure, profile_erase
from profiles.services import suppressions_lift
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import booking_row, customer_event, customer_row, member_row

pytestmark = pytest.mark.django_db


LAST_YEAR_MS = 1_764_000_000_000  # 2025-11-24: event times before any erasure here
NEXT_YEAR_MS = 1_830_000_000_000  # 2027-12: event times after it


def ana(lsn: int = 10, ts_ms: int = LAST_YEAR_MS) -> None:
    customers_apply([customer_event("crm", customer_row(), key="C-1001", lsn=lsn, ts_ms=ts_ms)])
    members_apply(
        [customer_event("loyalty", member_row(), key="TB-100200300", lsn=lsn, ts_ms=ts_ms)]
    )
    bookings_apply([customer_event("booking", booking_row(), key="X7K2PQ", lsn=lsn, ts_ms=ts_ms)])


def test_erasure_deletes_records_identifiers_links_and_keeps_only_hashes() -> None:
    ana()
    user = User.objects.create_user("ana")
    ProfileLink.objects.create(user=user, kind="email", value="ana.silva@example.com")
    erasure = profile_erase(profile_id="crm:C-1001")
    assert erasure is not None and erasure.user_ids == [user.pk]
    assert not CrmCustomer.with_deleted.exists()
    assert not LoyaltyMember.with_deleted.exists() and not Booking.with_deleted.exists()
    assert not IdentityNode.objects.exists() and not ProfileLink.objects.exists()
    hashes = set(Suppression.objects.values_list("value_hash", flat=True))
    assert identifier_hash(Identifier("email", "ana.silva@example.com")) in hashes
    assert not any("ana" in h for h in hashes)


def test_other_apps_erase_what_they_keep_through_a_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    ana()
    seen: list[Erasure] = []

    def hook(erasure: Erasure) -> int:
        seen.append(erasure)
        return 0

    monkeypatch.setattr(privacy, "erasure_hooks", lambda: [hook])
    profile_erase(profile_id="crm:C-1001")
    assert [e.profile_id for e in seen] == ["crm:C-1001"]
    assert Identifier("member_id", "TB-100200300") in seen[0].identifiers


def test_an_older_replay_cannot_bring_an_erased_person_back() -> None:
    ana(lsn=10)
    profile_erase(profile_id="crm:C-1001")
    ana(lsn=11)  # the replicator replays history: these events happened before the erasure
    assert not IdentityNode.objects.exists() and not CrmCustomer.with_deleted.exists()
    assert not HeldEvent.objects.exists()


def test_newer_events_are_held_until_staff_lift_the_suppression() -> None:
    ana(lsn=10)
    erasure = profile_erase(profile_id="crm:C-1001")
    assert erasure is not None
    future = 10**8
    customers_apply(
        [customer_event("crm", customer_row(), key="C-1001", lsn=future, ts_ms=NEXT_YEAR_MS)]
    )
    assert HeldEvent.objects.count() == 1 and not CrmCustomer.with_deleted.exists()
    staff = User.objects.create_user("ops", is_staff=True)
    assert suppressions_lift(erasure=erasure.id, by=staff, apply_held=True) > 0
    assert CrmCustomer.objects.get().version == future
    assert IdentityNode.objects.get().profile_id == "crm:C-1001"
    assert not HeldEvent.objects.exists()


def test_a_stranger_is_not_held_back_by_someone_elses_erasure() -> None:
    ana()
    profile_erase(profile_id="crm:C-1001")
    customers_apply(
        [
            customer_event(
                "crm",
                customer_row(email="bo@example.com", phone=None),
                key="C-2",
                lsn=10**8,
                ts_ms=NEXT_YEAR_MS,
            )
        ]
    )
    assert IdentityNode.objects.filter(node_id="crm:C-2").exists()


def test_the_management_command_erases_by_identifier() -> None:
    ana()
    call_command("erase_profile", "--email", " Ana.Silva@Example.com", "--yes")
    assert not IdentityNode.objects.exists()
