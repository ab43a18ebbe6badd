"""Erasure against what is still in flight: records on the broker, a batch being applied."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.db import connection, transaction

from feedback.models import RatingEvent
from feedback.streams import STREAMS as FEEDBACK_STREAMS
from harness.streaming import (
    RunnerThread,
    committed_offsets,
    isolated,
    publish,
    publish_raw,
    wait_until,
)
from profiles.models import CrmCustomer, HeldEvent, IdentityNode, ProfileLink
from profiles.privacy import profile_erase
from profiles.streams import STREAMS as PROFILE_STREAMS
from profiles.streams import customers_apply
from tests.factories import customer_event, customer_row
from tests.feedback.events import contract_json, rating_event
from tests.profiles.test_privacy import NEXT_YEAR_MS, ana
from travelbot.models import DeadLetter
from travelbot.streams.envelope import make_change

pytestmark = pytest.mark.django_db(transaction=True)
FEEDBACK = next(spec for spec in FEEDBACK_STREAMS if spec.name == "feedback.events")
CUSTOMERS = next(spec for spec in PROFILE_STREAMS if spec.name == "crm.customers")


def test_a_rating_sent_just_before_the_erasure_stores_nothing_when_it_arrives() -> None:
    ana()
    user = User.objects.create_user("ana")
    ProfileLink.objects.create(user=user, kind="email", value="ana.silva@example.com")
    spec = isolated(FEEDBACK)
    in_flight = rating_event("theirs", user=str(user.pk), comment="I am Ana Silva")
    other = rating_event("other", user="bo", turn="turn-2")
    publish(
        spec.topic, [({"conversation_id": "conv-1"}, contract_json(e)) for e in (in_flight, other)]
    )
    profile_erase(profile_id="crm:C-1001")
    with RunnerThread(spec):
        wait_until(lambda: sum(committed_offsets(spec).values()) == 2, what="both ratings")
    assert list(RatingEvent.objects.values_list("user_id", flat=True)) == ["bo"]


def crm_change(row: dict[str, object]) -> bytes:
    value = make_change(
        op="u",
        after=row,
        before=None,
        system="crm",
        table="customers",
        lsn=1,
        source_ts_ms=1_764_000_000_000,
        ts_ms=1_764_000_000_005,
    )
    return json.dumps(value).encode()


def test_dead_letters_holding_the_persons_raw_records_are_erased() -> None:
    ana()
    spec = isolated(CUSTOMERS)
    publish_raw(
        spec.topic,
        [
            (b'{"customer_id":"C-9"}', crm_change(customer_row("C-9", marketing_opt_in="maybe"))),
            (
                b'{"customer_id":"C-2"}',
                crm_change(
                    customer_row("C-2", email="bo@example.com", phone=None, marketing_opt_in=2)
                ),
            ),
        ],
    )
    with RunnerThread(spec):
        wait_until(lambda: DeadLetter.objects.count() == 2, what="both poison records")
    profile_erase(profile_id="crm:C-1001")  # C-9 is Ana too: her email, her phone
    assert list(DeadLetter.objects.values_list("key", flat=True)) == [b'{"customer_id":"C-2"}']


def in_thread(work: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            with transaction.atomic():
                work()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_batch_arriving_during_an_erasure_waits_for_it_then_screens() -> None:
    """Without the shared lock the batch would screen before the erasure commits (seeing no
    suppression), then write Ana back after it."""
    ana()
    erased, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def erase() -> None:
        profile_erase(profile_id="crm:C-1001")
        erased.set()
        release.wait(timeout=20)

    def apply() -> None:
        newer = customer_row(first_name="Ana Maria")
        customers_apply([customer_event("crm", newer, key="C-1001", lsn=10**8, ts_ms=NEXT_YEAR_MS)])

    eraser = in_thread(erase, errors)
    assert erased.wait(timeout=20)
    batch = in_thread(apply, errors)
    batch.join(timeout=1.0)
    assert batch.is_alive(), "the batch must wait for the erasure to commit"
    release.set()
    eraser.join(timeout=20)
    batch.join(timeout=20)
    assert not errors
    assert HeldEvent.objects.count() == 1
    assert not CrmCustomer.with_deleted.exists() and not IdentityNode.objects.exists()
