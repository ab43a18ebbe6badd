"""A turn's context: the asker's own profile, the live inventory the question names, policy in
force on the travel date, the conversation so far; versions and as_of on every fact."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from chat.context import turn_context
from chat.entities import gazetteer
from chat.models import Conversation, Turn
from chat.prompts import NOT_LINKED, turn_messages
from harness.worlds import DemoWorld
from knowledge.pipeline import chunks_embed_pending
from knowledge.streams import documents_apply
from tests.chat.conftest import NOW
from tests.factories import as_change
from travelbot.streams import contract
from travelbot.streams.envelope import make_change

pytestmark = pytest.mark.django_db


def publish_document(doc_id: str, body: str, *, lsn: int = 1, **fields: Any) -> None:
    title = doc_id.replace("-", " ").title()
    row: dict[str, Any] = {"doc_id": doc_id, "title": title, "body": body, "tags": []}
    row |= {"effective_from": None, "effective_to": None, "updated_at": "2026-11-01T00:00:00Z"}
    row |= fields
    value = make_change(
        op="c", after=row, before=None, system="cms", table="documents", lsn=lsn,
        source_ts_ms=lsn, ts_ms=lsn,
    )  # fmt: skip
    with transaction.atomic():
        documents_apply([as_change("doc_id", doc_id, value, contract.DOCUMENTS)])


def test_a_linked_traveller_gets_their_profile_and_trips_with_live_status(alex: User) -> None:
    context = turn_context(user=alex, conversation=None, message="is my flight on time?", now=NOW)
    kinds = [f.kind for f in context.facts]
    assert kinds[0] == "profile" and kinds.count("booking") >= 2
    trip = next(f for f in context.facts if f.kind == "booking")
    assert "status scheduled" in trip.lines[0] or "status" in trip.lines[0]
    assert trip.version > 0 and trip.as_of is not None
    profile = context.facts[0]
    assert "gold tier, 48210 points" in " ".join(profile.lines)


def test_an_unlinked_traveller_gets_no_profile_and_is_told_how_to_link(
    stranger: User, demo_world: DemoWorld
) -> None:
    context = turn_context(user=stranger, conversation=None, message="my trip?", now=NOW)
    assert not context.linked and not [f for f in context.facts if f.kind == "profile"]
    assert NOT_LINKED in turn_messages(context, "my trip?")[-1]["content"]


def test_a_route_question_brings_flights_and_fares_of_that_day(
    stranger: User, demo_world: DemoWorld
) -> None:
    flight = next(
        row
        for row in demo_world.world.rows["flights"].values()
        if row["departure_at"] > NOW.isoformat()
    )
    day = flight["departure_at"][:10]
    question = f"flights from {flight['origin']} to {flight['destination']} on {day}"
    context = turn_context(user=stranger, conversation=None, message=question, now=NOW)
    flights = [f for f in context.facts if f.kind == "flight"]
    fares = [f for f in context.facts if f.kind == "fare"]
    assert flight["flight_id"] in [f.id for f in flights]
    assert fares and all(f.version > 0 and f.as_of for f in fares)
    assert {s["kind"] for s in context.sources()} >= {"flight", "fare"}


def test_a_hotel_question_brings_hotels_of_the_city_with_the_stays_total(
    stranger: User, demo_world: DemoWorld
) -> None:
    city = next(iter(demo_world.world.rows["hotels"].values()))["city"]
    name = next(p.name for p in gazetteer().codes.values() if p.hotel_city == city)
    question = f"a hotel in {name} for 2 nights from tomorrow"
    context = turn_context(user=stranger, conversation=None, message=question, now=NOW)
    hotels = [f for f in context.facts if f.kind == "hotel"]
    assert hotels and all("2 nights, total" in f.lines[0] for f in hotels)


def test_policy_is_the_version_in_force_on_the_travel_date(stranger: User) -> None:
    publish_document(
        "bag-fees", "## Fees\nAn extra bag costs 35 GBP.", effective_to="2026-12-31", lsn=1
    )
    publish_document(
        "bag-fees-2027", "## Fees\nAn extra bag costs 39 GBP.", effective_from="2027-01-01", lsn=2
    )
    later = turn_context(
        user=stranger, conversation=None, message="extra bag fee on 3 feb 2027?", now=NOW
    )
    assert [c.doc_id for c in later.chunks] == ["bag-fees-2027"]
    soon = turn_context(user=stranger, conversation=None, message="extra bag fee?", now=NOW)
    assert [c.doc_id for c in soon.chunks] == ["bag-fees"]


def test_history_is_kept_within_its_budget(stranger: User) -> None:
    conversation = Conversation.objects.create(user=stranger, title="t")
    for n in range(8):
        Turn.objects.create(
            conversation=conversation, question=f"q{n}", answer="a" * 900, status="answered"
        )
    context = turn_context(user=stranger, conversation=conversation, message="and?", now=NOW)
    assert 0 < len(context.history) < 16
    assert context.history[-2]["content"] == "q7"  # the latest turns are the ones kept


def test_a_turn_context_takes_a_fixed_number_of_queries(
    alex: User, demo_world: DemoWorld, django_assert_num_queries: Any
) -> None:
    publish_document("bags", "## Extra bags\nAn extra bag costs 35 GBP.")
    chunks_embed_pending()
    flight = next(
        row
        for row in demo_world.world.rows["flights"].values()
        if row["departure_at"] > NOW.isoformat()
        and row["destination"] in {h["city"] for h in demo_world.world.rows["hotels"].values()}
    )
    conversation = Conversation.objects.create(user=alex, title="t")
    question = (
        f"flights from {flight['origin']} to {flight['destination']} on "
        f"{flight['departure_at'][:10]}, a hotel for 2 nights, and how much is an extra bag?"
    )
    turn_context(user=alex, conversation=conversation, message=question, now=NOW)  # warm
    with django_assert_num_queries(QUERIES_PER_TURN):
        context = turn_context(user=alex, conversation=conversation, message=question, now=NOW)
    assert {"profile", "booking", "flight", "fare", "hotel"} <= {f.kind for f in context.facts}
    assert context.chunks


# Profile: records, live inventory of the trips (2). What the feeds serve (1). Flights, fares
# (2). Hotels: stays, hotels, nightly rates (3). Knowledge: active model, term statistics,
# search (3). History (1).
QUERIES_PER_TURN = 12
