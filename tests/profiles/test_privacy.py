"""The right to be forgotten: erasure, and suppressions that older and newer events meet."""

from __future__ import annotations

import hashlib
import hmac
import importlib
import uuid

import msgspec
import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from pytest_django.fixtures import Settings

from chat.bodies import RatingBody
from chat.models import Conversation, Turn
from chat.services import rating_record
from feedback.models import Rating as FeedbackRating
from feedback.models import RatingEvent, TurnEvent
from feedback.streams import chat_turns_apply, feedback_events_apply
from profiles import privacy
from profiles.identifiers import Identifier
from profiles.models import (
    Booking,
    CrmCustomer,
    EmailVerification,
    HeldEvent,
    IdentityNode,
    LinkHistory,
    LoyaltyMember,
    ProfileLink,
    Suppression,
)
from profiles.privacy import Erasure, identifier_hash, profile_erase
from profiles.services import demo_profile_link, profile_unlink, suppressions_lift
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import booking_row, customer_event, customer_row, member_row
from tests.feedback.events import rating_event, turn_event
from travelbot.models import OutboxMessage

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


def traveller_with_a_conversation(name: str = "ana") -> tuple[User, Conversation]:
    user = User.objects.create_user(name)
    conversation = Conversation.objects.create(user=user, title="Friday")
    Turn.objects.create(conversation=conversation, question="my trip?", prompt=[{"x": "Ana"}])
    return user, conversation


def test_a_user_linked_then_unlinked_is_erased_with_their_conversations() -> None:
    ana()
    user, conversation = traveller_with_a_conversation()
    ProfileLink.objects.create(user=user, kind="email", value="ana.silva@example.com")
    profile_unlink(user=user)
    erasure = profile_erase(profile_id="crm:C-1001")
    assert erasure is not None and erasure.user_ids == [user.pk]
    assert not User.objects.filter(pk=user.pk).exists()
    assert not Conversation.objects.exists() and not Turn.objects.exists()
    assert not LinkHistory.objects.exists()


def test_a_user_whose_link_moved_to_someone_else_is_still_erased() -> None:
    ana()
    user, _ = traveller_with_a_conversation()
    ProfileLink.objects.create(user=user, kind="member_id", value="TB-100200300")
    demo_profile_link(user=user)  # replaces the link: now to another traveller
    profile_erase(profile_id="crm:C-1001")
    assert not User.objects.filter(pk=user.pk).exists() and not Conversation.objects.exists()


def test_a_user_who_verified_the_persons_email_is_erased_but_not_one_who_only_asked() -> None:
    ana()
    verified, _ = traveller_with_a_conversation("verified")
    asked, _ = traveller_with_a_conversation("asked")
    EmailVerification.objects.create(
        user=verified, email="ana.silva@example.com", used_at=timezone.now()
    )
    EmailVerification.objects.create(user=asked, email="ana.silva@example.com")
    profile_erase(profile_id="crm:C-1001")
    assert list(User.objects.values_list("username", flat=True)) == ["asked"]
    assert Conversation.objects.get().user == asked


def test_outbox_messages_carrying_the_erased_user_are_deleted() -> None:
    ana()
    user, conversation = traveller_with_a_conversation()
    other, theirs = traveller_with_a_conversation("bo")
    ProfileLink.objects.create(user=user, kind="email", value="ana.silva@example.com")
    rating_record(
        user=user,
        turn_id=conversation.turns.get().pk,
        body=RatingBody(rating=1, comment="Ana here"),
    )
    rating_record(
        user=other, turn_id=theirs.turns.get().pk, body=RatingBody(rating=-1, comment=None)
    )
    OutboxMessage.objects.filter(value__user_id=str(user.pk)).update(published_at=timezone.now())
    assert OutboxMessage.objects.count() == 2
    profile_erase(profile_id="crm:C-1001")
    kept = OutboxMessage.objects.values_list("value__user_id", flat=True)
    assert list(kept) == [str(other.pk)]


def test_a_replay_after_the_suppression_is_lifted_cannot_bring_the_person_back() -> None:
    ana(lsn=10)
    erasure = profile_erase(profile_id="crm:C-1001")
    assert erasure is not None
    suppressions_lift(erasure=erasure.id, by=None, apply_held=True)
    ana(lsn=11)  # happened before the erasure: stays erased though nothing is suppressed now
    assert not IdentityNode.objects.exists() and not CrmCustomer.with_deleted.exists()
    assert not HeldEvent.objects.exists()


def test_suppressions_keep_a_hash_keyed_with_the_privacy_key(settings: Settings) -> None:
    email = Identifier("email", "ana.silva@example.com")
    settings.PRIVACY_HASH_KEY = "one key"
    one = identifier_hash(email)
    settings.PRIVACY_HASH_KEY = "another key"
    assert identifier_hash(email) != one
    plain = hashlib.sha256(b"travelbot-suppression-v1:email:ana.silva@example.com").hexdigest()
    derived = hashlib.sha256(f"{privacy.SUPPRESSION_SALT}another key".encode()).digest()
    assert identifier_hash(email) == hmac.new(derived, plain.encode(), "sha256").hexdigest()


def test_the_migration_rekeys_plain_digests_into_the_keyed_hashes() -> None:
    email = Identifier("email", "ana.silva@example.com")
    plain = hashlib.sha256(b"travelbot-suppression-v1:email:ana.silva@example.com").hexdigest()
    Suppression.objects.create(kind="email", value_hash=plain, erasure=uuid.uuid4())
    migration = importlib.import_module(
        "profiles.migrations.0003_link_history_and_keyed_suppressions"
    )
    migration.suppressions_rekey(django_apps, None)
    assert Suppression.objects.get().value_hash == identifier_hash(email)


def test_ratings_and_turns_of_an_erased_user_arriving_later_are_dropped() -> None:
    ana()
    user, _ = traveller_with_a_conversation()
    ProfileLink.objects.create(user=user, kind="email", value="ana.silva@example.com")
    erased = str(user.pk)
    profile_erase(profile_id="crm:C-1001")
    feedback_events_apply(
        [rating_event("r1", user=erased, comment="I am Ana"), rating_event("r2", user="bo")]
    )
    chat_turns_apply([msgspec.structs.replace(turn_event("t1"), user_id=erased), turn_event("t2")])
    assert list(RatingEvent.objects.values_list("user_id", flat=True)) == ["bo"]
    assert list(FeedbackRating.objects.values_list("user_id", flat=True)) == ["bo"]
    assert list(TurnEvent.objects.values_list("event_id", flat=True)) == ["t2"]
