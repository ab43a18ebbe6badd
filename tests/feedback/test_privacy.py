"""An erased traveller's comment text leaves the ratings ledger; the counts stay."""

from __future__ import annotations

import uuid

import pytest

from feedback.models import RatingEvent
from feedback.privacy import feedback_comments_erase
from feedback.services import ratings_ingest
from profiles.privacy import Erasure
from tests.feedback.events import T0, rating_event

pytestmark = pytest.mark.django_db


def test_an_erased_travellers_comments_are_blanked_and_others_kept() -> None:
    ratings_ingest(
        events=[
            rating_event("e1", user="7", comment="I am Ana Silva"),
            rating_event("e2", user="8", comment="fine", turn="turn-2"),
        ],
        now=T0,
    )
    erasure = Erasure(id=uuid.uuid4(), profile_id="p", user_ids=[7], identifiers=[], records=[])
    assert feedback_comments_erase(erasure) == 1
    comments = dict(RatingEvent.objects.values_list("user_id", "comment"))
    assert comments == {"7": "", "8": "fine"}
