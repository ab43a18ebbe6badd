"""What causes bad answers: not-helpful ratings attributed to the documents, sections, comment
topics, routes and hotels their turns stood on, worst first, in one query."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.models import Rating
from feedback.models import CommentLabel
from feedback.selectors import BlameRow, bad_answer_causes
from inventory.models import Fare, Flight, Hotel, HotelRate
from tests.feedback.rated import cited, rated_turn

pytestmark = pytest.mark.django_db
BAGS = ("bag-fees", ["bag-fees#extra-bags", "bag-fees#sports-equipment"])
REFUNDS = ("refunds", ["refunds#cancel"])


@pytest.fixture
def traveller(db: None) -> User:
    return User.objects.create_user("ines", password="a-sturdy-phrase-42")


def causes(dimension: str) -> dict[str, BlameRow]:
    now = timezone.now()
    rows = bad_answer_causes(start=now - timedelta(hours=1), end=now + timedelta(minutes=1))
    return {row.key: row for row in rows if row.dimension == dimension}


def turn_ids(*ratings: Rating) -> list[str]:
    return sorted(str(r.turn_id) for r in ratings)


def versioned() -> dict[str, object]:
    return {"version": 1, "as_of": timezone.now(), "applied_at": timezone.now()}


def test_documents_count_not_helpful_of_rated_with_the_turns_behind_them(traveller: User) -> None:
    bad = rated_turn(traveller, rating=-1, provenance=cited(BAGS))
    rated_turn(traveller, rating=1, provenance=cited(BAGS))
    refunds = rated_turn(traveller, rating=-1, provenance=cited(REFUNDS))
    documents = causes("document")
    assert (documents["bag-fees"].not_helpful, documents["bag-fees"].rated) == (1, 2)
    assert documents["bag-fees"].turn_ids == turn_ids(bad)
    assert documents["refunds"].turn_ids == turn_ids(refunds)


def test_each_cited_section_is_counted(traveller: User) -> None:
    rated_turn(traveller, rating=-1, provenance=cited(BAGS))
    sections = causes("section")
    assert set(sections) == {"bag-fees#extra-bags", "bag-fees#sports-equipment"}
    assert sections["bag-fees#extra-bags"].not_helpful == 1


def test_a_fare_counts_towards_its_flights_route_once_per_rating(traveller: User) -> None:
    Flight.objects.create(flight_id="BA117", origin="LHR", destination="JFK", **versioned())
    Fare.objects.create(fare_id="BA117:Y", flight_id="BA117", amount=Decimal(400), **versioned())
    bad = rated_turn(
        traveller, provenance=cited(inventory=[("flight", "BA117"), ("fare", "BA117:Y")])
    )
    rated_turn(traveller, rating=1, provenance=cited(inventory=[("fare", "BA117:Y")]))
    route = causes("route")["LHR-JFK"]
    assert (route.label, route.not_helpful, route.rated) == ("LHR → JFK", 1, 2)
    assert route.turn_ids == turn_ids(bad)


def test_a_hotel_rate_counts_towards_its_hotel(traveller: User) -> None:
    Hotel.objects.create(hotel_id="H-1", name="Harbour Inn", city="NYC", **versioned())
    HotelRate.objects.create(rate_id="H-1:double", hotel_id="H-1", **versioned())
    rated_turn(traveller, provenance=cited(inventory=[("hotel_rate", "H-1:double")]))
    hotel = causes("hotel")["H-1"]
    assert (hotel.label, hotel.not_helpful, hotel.rated) == ("Harbour Inn", 1, 1)


def test_comment_topics_come_from_finished_labels_only(traveller: User) -> None:
    labelled = rated_turn(traveller, comment="Wrong price")
    pending = rated_turn(traveller, comment="Cannot log in")
    CommentLabel.objects.create(
        rating=labelled, comment="Wrong price", status="done", topic="prices"
    )
    CommentLabel.objects.create(rating=pending, comment="y", topic="account")
    assert set(causes("topic")) == {"prices"}


def test_the_worst_come_first(traveller: User) -> None:
    for _ in range(2):
        rated_turn(traveller, rating=-1, provenance=cited(REFUNDS))
    rated_turn(traveller, rating=-1, provenance=cited(BAGS))
    rated_turn(traveller, rating=1, provenance=cited(BAGS))
    now = timezone.now()
    rows = bad_answer_causes(start=now - timedelta(hours=1), end=now + timedelta(minutes=1))
    documents = [row.key for row in rows if row.dimension == "document"]
    assert documents == ["refunds", "bag-fees"]
    assert rows[0].not_helpful == 2


def test_things_only_ever_found_helpful_and_ratings_outside_the_range_are_left_out(
    traveller: User,
) -> None:
    rated_turn(traveller, rating=1, provenance=cited(BAGS))
    rated_turn(traveller, provenance=cited(REFUNDS), at=timezone.now() - timedelta(days=2))
    assert causes("document") == {}


def test_it_takes_one_query_however_many_ratings(traveller: User) -> None:
    for _ in range(5):
        rated_turn(traveller, provenance=cited(BAGS, REFUNDS))
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        bad_answer_causes(start=now - timedelta(hours=1), end=now + timedelta(minutes=1))
    assert len(queries) == 1
