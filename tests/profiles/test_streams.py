"""The customer streams on the real broker: resolution as records arrive, poison dead-lettered."""

from __future__ import annotations

import json

import pytest

from harness.streaming import RunnerThread, isolated, publish, publish_raw, wait_until
from profiles.models import IdentityNode
from profiles.streams import STREAMS
from tests.factories import booking_row, customer_row, member_row
from travelbot.models import DeadLetter
from travelbot.streams.envelope import make_change

pytestmark = pytest.mark.django_db(transaction=True)
CUSTOMERS = next(spec for spec in STREAMS if spec.name == "crm.customers")
MEMBERS = next(spec for spec in STREAMS if spec.name == "loyalty.members")
BOOKINGS = next(spec for spec in STREAMS if spec.name == "bookings.reservations")


def change(row: dict[str, object], *, lsn: int, table: str = "members") -> bytes:
    value = make_change(
        op="u",
        after=row,
        before=None,
        system="loyalty",
        table=table,
        lsn=lsn,
        source_ts_ms=1_796_000_000_000,
        ts_ms=1_796_000_000_005,
    )
    return json.dumps(value).encode()


MALFORMED = {
    b'{"member_id":"M-TIER"}': (
        change(member_row("M-TIER", tier="diamond"), lsn=1),
        "Invalid enum value 'diamond' - at `$.after.tier`",
    ),
    b'{"member_id":"M-TYPE"}': (
        change(member_row("M-TYPE", points="lots"), lsn=1),
        "Expected `int`, got `str` - at `$.after.points`",
    ),
    b'{"id":"M-KEY"}': (
        change(member_row("M-KEY"), lsn=1),
        "key: Object missing required field `member_id`",
    ),
}


def test_malformed_customer_events_are_dead_lettered_with_their_reason() -> None:
    spec = isolated(MEMBERS)
    publish_raw(spec.topic, [(key, value) for key, (value, _) in MALFORMED.items()])
    publish(
        spec.topic,
        [
            (
                {"member_id": "M-OK"},
                json.loads(change(member_row("M-OK", phone="+447700900321"), lsn=2)),
            )
        ],
    )
    with RunnerThread(spec):
        wait_until(lambda: DeadLetter.objects.count() == len(MALFORMED), what="dead letters")
        wait_until(
            lambda: IdentityNode.objects.filter(node_id="loyalty:M-OK").exists(),
            what="the good record",
        )
    reasons = {bytes(d.key or b""): d.reason for d in DeadLetter.objects.all()}
    for key, (_, reason) in MALFORMED.items():
        assert reason in reasons[key], reasons[key]


def test_an_unknown_booking_status_is_dead_lettered() -> None:
    spec = isolated(BOOKINGS)
    value = make_change(
        op="c",
        after=booking_row("BADST", status="pending"),
        before=None,
        system="booking_engine",
        table="reservations",
        lsn=1,
        source_ts_ms=1_796_000_000_000,
        ts_ms=1_796_000_000_005,
    )
    publish(spec.topic, [({"booking_ref": "BADST"}, value)])
    with RunnerThread(spec):
        wait_until(lambda: DeadLetter.objects.exists(), what="the dead letter")
    assert "Invalid enum value 'pending' - at `$.after.status`" in DeadLetter.objects.get().reason


def test_a_customer_and_their_loyalty_record_become_one_profile_through_the_broker() -> None:
    customers, members = isolated(CUSTOMERS), isolated(MEMBERS)
    crm = make_change(
        op="c",
        after=customer_row("C-1"),
        before=None,
        system="crm",
        table="customers",
        lsn=1,
        source_ts_ms=1_796_000_000_000,
        ts_ms=1_796_000_000_005,
    )
    publish(customers.topic, [({"customer_id": "C-1"}, crm)])
    publish(members.topic, [({"member_id": "M-1"}, json.loads(change(member_row("M-1"), lsn=1)))])
    with RunnerThread(customers), RunnerThread(members):
        wait_until(
            lambda: (
                set(IdentityNode.objects.values_list("profile_id", flat=True)) == {"crm:C-1"}
                and IdentityNode.objects.count() == 2
            ),
            what="one profile",
        )
