"""The contract's identity rules on the situations that broke the old any-shared-identifier
rule: families, travel agents, guest bookings, a stranger's booking with someone's number."""

from __future__ import annotations

import pytest

from profiles.models import DataQualityFinding, IdentityNode
from profiles.rules import HUB_SIZE
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import booking_row, customer_event, customer_row, member_row

pytestmark = pytest.mark.django_db
FAMILY_PHONE = "+44 7700 900555"


def membership() -> dict[str, str]:
    return dict(IdentityNode.objects.values_list("node_id", "profile_id"))


def refused(node: str) -> set[tuple[str, str]]:
    rows = DataQualityFinding.objects.filter(node_id=node, refused=True)
    return {(f.field, f.value) for f in rows}


def crm(key: str, email: str | None, phone: str | None = None, lsn: int = 1) -> None:
    row = customer_row(email=email, phone=phone, first_name=key)
    customers_apply([customer_event("crm", row, key=key, lsn=lsn)])


def booking(key: str, lsn: int = 1, **fields: str | None) -> None:
    unnamed: dict[str, str | None] = {"email": None, "member_id": None, "customer_id": None}
    row = booking_row(key, **{**unnamed, **fields})
    bookings_apply([customer_event("booking", row, key=key, lsn=lsn)])


def test_a_family_sharing_a_phone_stays_two_people_and_their_guest_booking_joins_neither() -> None:
    crm("C-MUM", "mum@example.com", FAMILY_PHONE)
    crm("C-DAD", "dad@example.com", FAMILY_PHONE)
    booking("FAM001", phone=FAMILY_PHONE)
    assert membership() == {
        "crm:C-MUM": "crm:C-MUM",
        "crm:C-DAD": "crm:C-DAD",
        "booking:FAM001": "booking:FAM001",
    }
    assert refused("booking:FAM001") == {("phone", "+447700900555")}


def test_a_guest_booking_with_the_phone_of_one_person_attaches_to_them() -> None:
    crm("C-MUM", "mum@example.com", FAMILY_PHONE)
    booking("SOLO01", phone=FAMILY_PHONE)
    assert membership()["booking:SOLO01"] == "crm:C-MUM"


def test_a_travel_agents_email_on_50_bookings_is_a_hub_not_a_person() -> None:
    agent = "desk@agency.example"
    crm("C-AGENT", agent)
    for n in range(50):
        members_apply(
            [
                customer_event(
                    "loyalty", member_row(email=f"client{n}@example.com"), key=f"M-{n}", lsn=1
                )
            ]
        )
    rows = [
        booking_row(email=agent, phone=None, member_id=f"M-{n}" if n < 25 else None)
        for n in range(50)
    ]
    bookings_apply(
        [customer_event("booking", row, key=f"AG{n:04d}", lsn=1) for n, row in enumerate(rows)]
    )
    profiles = membership()
    assert len({profiles[f"loyalty:M-{n}"] for n in range(50)}) == 50  # no client merged
    for n in range(25):  # a booking naming a client belongs to that client
        assert profiles[f"booking:AG{n:04d}"] == f"loyalty:M-{n}"
    for n in range(25, 50):  # the agent's address names nobody: the bookings stay apart
        assert profiles[f"booking:AG{n:04d}"] == f"booking:AG{n:04d}"
        assert ("email", agent) in refused(f"booking:AG{n:04d}")
    assert [n for n, p in profiles.items() if p == "crm:C-AGENT"] == ["crm:C-AGENT"]
    assert HUB_SIZE < 50


def test_a_guest_booking_made_with_a_travellers_own_account_email_attaches_to_them() -> None:
    crm("C-ANA", "ana.silva@example.com")
    members_apply([customer_event("loyalty", member_row(), key="TB-1", lsn=1)])
    booking("GUEST1", email=" Ana.Silva@example.com")
    assert membership()["booking:GUEST1"] == "crm:C-ANA"
    assert membership()["loyalty:TB-1"] == "crm:C-ANA"


def test_a_strangers_booking_with_a_victims_loyalty_number_joins_only_the_victim() -> None:
    crm("C-VIC", "ana.silva@example.com")
    members_apply([customer_event("loyalty", member_row(), key="TB-100200300", lsn=1)])
    crm("C-EVE", "eve@example.com")
    booking("EVIL01", email="eve@example.com", member_id="TB-100200300")
    profiles = membership()
    assert profiles["booking:EVIL01"] == "crm:C-VIC"  # the number it names decides
    assert profiles["crm:C-EVE"] == "crm:C-EVE"  # and the stranger is not pulled in
    assert refused("booking:EVIL01") == {("email", "eve@example.com")}


def test_a_booking_naming_a_customer_and_someone_elses_member_refuses_the_member() -> None:
    crm("C-EVE", "eve@example.com")
    members_apply([customer_event("loyalty", member_row(), key="TB-VIC", lsn=1)])
    booking("EVIL02", customer_id="C-EVE", member_id="TB-VIC")
    profiles = membership()
    assert profiles["booking:EVIL02"] == "crm:C-EVE"
    assert profiles["loyalty:TB-VIC"] == "loyalty:TB-VIC"
    assert refused("booking:EVIL02") == {("member_id", "TB-VIC")}


def test_a_duplicate_registration_with_the_same_own_email_is_one_person() -> None:
    crm("C-1", "ana.silva@example.com")
    crm("C-2", "ANA.SILVA@example.com ")
    assert set(membership().values()) == {"crm:C-1"}


def test_an_own_email_on_more_accounts_than_a_person_has_is_a_hub() -> None:
    for n in range(4):
        crm(f"C-{n}", "office@example.com")
    assert len(set(membership().values())) == 4
    assert refused("crm:C-0") == {("email", "office@example.com")}


def test_bookings_naming_an_account_that_has_no_record_yet_wait_together_for_it() -> None:
    booking("EARLY2", customer_id="C-LATE")
    booking("EARLY1", customer_id="C-LATE")
    assert set(membership().values()) == {"booking:EARLY1"}
    crm("C-LATE", "late@example.com")
    assert set(membership().values()) == {"crm:C-LATE"}
