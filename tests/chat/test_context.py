"""A turn's context: the asker's own profile, the live inventory the question names, policy in
force on the travel date, the conversation so far; versions and as_of on every fact."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from chat.context import turn_context
from chat.entities import gazetteer
from chat.grounding import ungrounded_numbers
from chat.models import Conversation, Turn
from chat.prompts import NOT_LINKED, turn_messages
from harness.worlds import DemoWorld
from inventory.streams import flights_apply
from knowledge.pipeline import chunks_embed_pending
from knowledge.streams import documents_apply
from places.selectors import airport_time
from tests.chat.conftest import NOW
from tests.factories import as_change, envelope, flight_row
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


def departure_day(flight: dict[str, Any]) -> str:
    """The flight's date as its ticket shows it: on the clock of its origin."""
    departure = datetime.fromisoformat(flight["departure_at"])
    local = airport_time(code=flight["origin"], moment=departure)
    assert local is not None
    return local.date().isoformat()


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
    day = departure_day(flight)
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
        f"{departure_day(flight)}, a hotel for 2 nights, and how much is an extra bag?"
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


# --- times as travellers live them -----------------------------------------------------------

SYDNEY = ZoneInfo("Australia/Sydney")
LATE_EVENING_UTC = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)  # already the 11th in Sydney


def publish_flights(*rows: dict[str, Any]) -> None:
    events = [as_change("flight_id", r["flight_id"], envelope("c", r, lsn=1), contract.FLIGHTS)
              for r in rows]  # fmt: skip
    flights_apply(events)


def madrid_flight(flight_id: str, departure_at: str, arrival_at: str, **fields: Any) -> dict:
    return flight_row(flight_id, carrier="IB", origin="MAD", destination="LHR",
                      departure_at=departure_at, arrival_at=arrival_at, **fields)  # fmt: skip


def flight_lines(user: User, message: str) -> list[str]:
    context = turn_context(user=user, conversation=None, message=message, now=NOW)
    return [line for f in context.facts if f.kind == "flight" for line in f.lines]


def test_a_madrid_departure_at_0535z_shows_0635_in_december_and_0735_in_july(
    stranger: User,
) -> None:
    publish_flights(
        madrid_flight("IB3166-2026-12-15", "2026-12-15T05:35:00Z", "2026-12-15T07:50:00Z"),
        madrid_flight("IB3166-2026-07-15", "2026-07-15T05:35:00Z", "2026-07-15T07:50:00Z"),
    )
    (december,) = flight_lines(stranger, "flights from MAD to LHR on 15 December")
    (july,) = flight_lines(stranger, "flights from MAD to LHR on 15 July")
    assert "departs Tue 15 Dec 06:35 CET, arrives 07:50 GMT" in december
    assert "departs Wed 15 Jul 07:35 CEST, arrives 08:50 BST" in july


def test_an_overnight_arrival_shows_the_next_day(stranger: User) -> None:
    publish_flights(
        flight_row("IB6251-2026-12-15", carrier="IB", origin="MAD", destination="JFK",
                   departure_at="2026-12-15T22:30:00Z", arrival_at="2026-12-16T06:45:00Z"),
    )  # fmt: skip
    (line,) = flight_lines(stranger, "flights from MAD to JFK on 15 December")
    assert "departs Tue 15 Dec 23:30 CET, arrives Wed 16 Dec 01:45 EST" in line


def test_a_routes_date_is_the_day_at_the_origin(stranger: User) -> None:
    # 23:30Z on the 14th is half past midnight on the 15th in Madrid.
    publish_flights(
        madrid_flight("IB3170-2026-12-15", "2026-12-14T23:30:00Z", "2026-12-15T01:45:00Z")
    )
    assert flight_lines(stranger, "flights from MAD to LHR on 15 December")
    assert not flight_lines(stranger, "flights from MAD to LHR on 14 December")


def test_an_answer_may_quote_a_time_in_local_time_or_utc(stranger: User) -> None:
    publish_flights(
        madrid_flight("IB3166-2026-12-15", "2026-12-15T05:35:00Z", "2026-12-15T07:50:00Z")
    )
    context = turn_context(user=stranger, conversation=None, now=NOW,
                           message="flights from MAD to LHR on 15 December")  # fmt: skip
    answer = "It leaves at 06:35 (05:35 UTC) and lands at 07:50, not 08:50."
    assert ungrounded_numbers(answer, context.grounding_text()) == ["08:50"]


def test_a_traveller_in_sydney_asking_about_tomorrow_at_2330_utc_gets_their_tomorrow(
    stranger: User,
) -> None:
    context = turn_context(user=stranger, conversation=None, message="MAD to LHR tomorrow",
                           now=LATE_EVENING_UTC, time_zone=SYDNEY)  # fmt: skip
    assert context.today == date(2026, 6, 11)
    assert context.entities.travel_date == date(2026, 6, 12)
    prompt = turn_messages(context, "MAD to LHR tomorrow")[-1]["content"]
    assert 'today="Thu 2026-06-11" time_zone="Australia/Sydney"' in prompt


def test_without_a_zone_from_the_browser_tomorrow_is_the_sites(stranger: User) -> None:
    context = turn_context(user=stranger, conversation=None, message="MAD to LHR tomorrow",
                           now=LATE_EVENING_UTC)  # fmt: skip
    assert context.entities.travel_date == date(2026, 6, 11)  # TIME_ZONE is UTC


def test_a_linked_traveller_without_a_browser_zone_lives_at_their_home_airport(
    alex: User,
) -> None:
    # Alex's home airport is Heathrow: 23:30Z in June is 00:30 the next day in London.
    context = turn_context(user=alex, conversation=None, message="hello", now=LATE_EVENING_UTC)
    assert str(context.zone) == "Europe/London" and context.today == date(2026, 6, 11)
