"""/staff/feedback/: staff only; KPI charts and figures from the event-time windows, the causes
of bad answers linking to the turns, the latest rated turns with their filters."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from accounts.services import user_sign_up
from chat.models import Rating
from feedback.charts import svg_path
from feedback.models import CommentLabel
from feedback.services import ratings_ingest, turns_ingest
from tests.clock import Clock
from tests.feedback.events import rating_event, turn_event
from tests.feedback.rated import cited, rated_turn

pytestmark = pytest.mark.django_db
URL = "/staff/feedback/"


@pytest.fixture
def staff(db: None) -> User:
    return User.objects.create_user("ops", password="x", is_staff=True)


@pytest.fixture
def staff_client(client: Client, staff: User) -> Client:
    client.force_login(staff)
    return client


def labelled(rating: Rating, *, sentiment: str, topic: str) -> None:
    CommentLabel.objects.create(
        rating=rating, comment=rating.comment, status="done", sentiment=sentiment, topic=topic
    )


def test_an_anonymous_visitor_is_sent_to_log_in(client: Client) -> None:
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/staff/feedback/")


def test_a_traveller_is_refused(client: Client) -> None:
    client.force_login(
        user_sign_up(username="ines", email="i@example.com", password="a-Sturdy-42x")
    )
    assert client.get(URL).status_code == 403


def test_staff_see_the_current_windows_figures_from_the_streams(
    staff_client: Client, clock: Clock
) -> None:
    now = clock.now()  # the page's current minute must still be this one
    turns_ingest(events=[turn_event("t1", at=now, first_token_ms=640)])
    ratings_ingest(events=[rating_event("r1", at=now), rating_event("r2", at=now, user="u2")])
    page = staff_client.get(URL, {"granularity": "minute"}).content.decode()
    assert '<dd data-kpi="current-ratings">2</dd>' in page
    assert '<dd data-kpi="current-turns">1</dd>' in page
    assert '<dd data-kpi="range-ratings">2</dd>' in page


def test_the_charts_are_inline_svg_paths(staff_client: Client) -> None:
    ratings_ingest(events=[rating_event("r1", at=timezone.now())])
    page = staff_client.get(URL).content.decode()
    assert page.count("<svg viewBox") >= 3
    assert 'class="kpi-line kpi-line--b" d="M' in page
    assert "<script" not in page.split('id="feedback-live"')[1]


def test_the_live_part_polls_every_second_and_comes_alone(staff_client: Client) -> None:
    page = staff_client.get(URL, {"granularity": "minute"}).content.decode()
    assert (
        'hx-trigger="every 1s"' in page and 'hx-get="/staff/feedback/?granularity=minute"' in page
    )
    part = staff_client.get(URL, {"granularity": "minute"}, HTTP_HX_REQUEST="true")
    body = part.content.decode()
    assert body.lstrip().startswith('<div id="feedback-live"') and "<html" not in body


def test_the_causes_of_bad_answers_link_to_their_turns(staff_client: Client, staff: User) -> None:
    bad = rated_turn(staff, rating=-1, provenance=cited(("bag-fees", ["bag-fees#extra-bags"])))
    page = staff_client.get(URL).content.decode()
    causes = page.split('class="table table--compact table--left feedback-causes"')[1]
    assert "bag-fees#extra-bags" in causes and "1 / 1" in causes
    assert f'href="/staff/turns/{bad.turn_id}/"' in causes


def test_a_range_it_cannot_answer_says_why_and_shows_the_default(staff_client: Client) -> None:
    response = staff_client.get(URL, {"from": "2026-11-02T10:00", "to": "2026-11-02T09:00"})
    assert response.status_code == 200
    assert "from must be earlier than to" in response.content.decode()


def rated_rows(client: Client, **params: str) -> str:
    page = client.get(URL, params).content.decode()
    return page.split('class="table table--compact table--left feedback-rated"')[1]


@pytest.fixture
def three_rated(staff: User) -> list[Rating]:
    prices = rated_turn(staff, rating=-1, comment="too dear", question="Fare to Rome?")
    labelled(prices, sentiment="negative", topic="prices")
    bags = rated_turn(
        staff,
        rating=-1,
        comment="wrong fee",
        question="Bag fee to Oslo?",
        provenance=cited(("bag-fees", ["bag-fees#extra-bags"])),
    )
    labelled(bags, sentiment="negative", topic="baggage")
    happy = rated_turn(staff, rating=1, comment="spot on", question="Gate for BA117?")
    labelled(happy, sentiment="positive", topic="flight_info")
    return [prices, bags, happy]


def test_rated_turns_link_to_the_staff_turn_page(
    staff_client: Client, three_rated: list[Rating]
) -> None:
    rows = rated_rows(staff_client)
    for rating in three_rated:
        assert f'href="/staff/turns/{rating.turn_id}/"' in rows
    assert "negative · prices" in rows


@pytest.mark.parametrize(
    ("params", "shown"),
    [
        ({"rating": "1"}, {"Gate for BA117?"}),
        ({"rating": "-1"}, {"Fare to Rome?", "Bag fee to Oslo?"}),
        ({"sentiment": "negative"}, {"Fare to Rome?", "Bag fee to Oslo?"}),
        ({"topic": "baggage"}, {"Bag fee to Oslo?"}),
        ({"doc": "bag-fees"}, {"Bag fee to Oslo?"}),
        ({"topic": "not-a-topic"}, {"Fare to Rome?", "Bag fee to Oslo?", "Gate for BA117?"}),
    ],
)
def test_rated_turns_are_filtered(
    staff_client: Client, three_rated: list[Rating], params: dict[str, str], shown: set[str]
) -> None:
    rows = rated_rows(staff_client, **params)
    questions = {"Fare to Rome?", "Bag fee to Oslo?", "Gate for BA117?"}
    assert {q for q in questions if q in rows} == shown


def test_staff_navigation_links_the_dashboard(staff_client: Client) -> None:
    assert 'href="/staff/feedback/"' in staff_client.get("/staff/turns/").content.decode()


def test_a_missing_value_breaks_the_line_and_a_lone_point_is_a_dot() -> None:
    path = svg_path([1, None, 2, 2], top=2)
    assert path.count("M") == 2 and path.count("L") == 1
    assert svg_path([None, 5, None], top=10).endswith("h0")


def test_the_json_link_asks_the_kpi_api_for_the_same_range(staff_client: Client) -> None:
    page = staff_client.get(URL, {"granularity": "minute"}).content.decode()
    link = page.split('<a href="/api/feedback/kpis?')[1].split('"')[0].replace("&amp;", "&")
    assert staff_client.get(f"/api/feedback/kpis?{link}").status_code == 200
