"""Travellers, their rated turns and the canaries that must never leave in an export."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone
from pytest_django.fixtures import Settings

from chat.models import Conversation, Rating, Turn
from exports.services import consent_set
from profiles.models import ProfileLink
from profiles.streams import bookings_apply, customers_apply, members_apply
from tests.factories import booking_row, customer_event, customer_row, member_row

# Ana's own values, from her profile: the name has no pattern, so only the profile finds it.
ANA_CANARIES = ("Ana Silva", "Silva", "ana.silva@example.com", "7700 900123", "X7K2PQ")
ANA_LOYALTY = "TB-100200300"
# Anyone's values, found by pattern.
OTHER_CANARIES = ("zed.canary@example.org", "+1 415 555 0199", "G9B25A", "TB-987654321", "C-424242")
CANARIES = (*ANA_CANARIES, ANA_LOYALTY, *OTHER_CANARIES)

QUESTION = (
    "I'm Ana Silva (ana.silva@example.com, +44 7700 900123), booking X7K2PQ, loyalty "
    "TB-100200300: can my friend zed.canary@example.org (+1 415 555 0199, booking G9B25A, "
    "TB-987654321, customer C-424242) change seats?"
)
ANSWER = (
    "Yes Ana Silva, booking X7K2PQ and G9B25A can change seats; we will text 07700 900123 "
    "and email zed.canary@example.org. Member TB-987654321 keeps C-424242."
)
COMMENT = "Thanks! Silva here, reach me at ana.silva@example.com or +1 415 555 0199, TB-100200300"


def ana_profile() -> None:
    customers_apply([customer_event("crm", customer_row(), key="C-1001", lsn=10)])
    members_apply([customer_event("loyalty", member_row(), key=ANA_LOYALTY, lsn=10)])
    bookings_apply([customer_event("booking", booking_row(), key="X7K2PQ", lsn=10)])


def traveller(username: str, *, consent: bool = True, linked_email: str | None = None) -> User:
    user = User.objects.create_user(username, email=f"{username}@example.net")
    if consent:
        consent_set(user=user, granted=True)
    if linked_email:
        ProfileLink.objects.create(user=user, kind="email", value=linked_email, method="email")
    return user


def rated_turn(
    user: User,
    *,
    rating: int = 1,
    question: str = "Can I take a second bag?",
    answer: str = "Yes, for 40.00 GBP.",
    comment: str = "",
    at: datetime | None = None,
) -> Turn:
    conversation = Conversation.objects.create(user=user, title="trip")
    turn = Turn.objects.create(
        conversation=conversation,
        question=question,
        answer=answer,
        status=Turn.Status.ANSWERED,
        model="travelbot-local",
        provenance={"documents": [{"doc_id": "baggage-policy", "version": 3, "chunk_ids": [1]}]},
        finished_at=timezone.now(),
    )
    occurred = at or timezone.now() - timedelta(minutes=5)
    Rating.objects.create(
        turn=turn, user=user, rating=rating, comment=comment, occurred_at=occurred
    )
    return turn


@pytest.fixture(autouse=True)
def settled_at_once(settings: Settings) -> None:
    """Each test's rows are committed before its export starts: no margin needed."""
    settings.EXPORTS_SETTLE = timedelta(0)


@pytest.fixture
def ana() -> User:
    ana_profile()
    return traveller("ana", linked_email="ana.silva@example.com")
