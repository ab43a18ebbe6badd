"""POST /api/chat/messages (JSON and server-sent events), ratings, and what is captured."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User
from django.db import transaction
from django.test import AsyncClient, Client
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.models import Rating, Turn
from inventory.models import Flight
from inventory.streams import flights_apply
from tests.chat.conftest import NOW
from tests.chat.fake_llm import FakeLLM
from tests.factories import apply_rows, flight_row
from travelbot.models import OutboxMessage
from travelbot.streams import contract
from travelbot.streams.envelope import decode_event
from travelbot.streams.kafka import encode_json

pytestmark = pytest.mark.django_db(transaction=True)
API = "/api/chat/messages"


def ask(client: Client, message: str, **extra: Any) -> Any:
    return client.post(
        API, json.dumps({"message": message, **extra}), content_type="application/json"
    )


def published(topic: contract.EventTopic) -> list[Any]:
    """The outbox's events of a topic, decoded as a consumer of the topic would."""
    rows = OutboxMessage.objects.filter(topic=topic.name).order_by("id")
    return [decode_event(encode_json(m.key), encode_json(m.value), topic=topic) for m in rows]


def test_an_answer_comes_with_sources_model_and_timings(
    client: Client, alex: User, llm: FakeLLM
) -> None:
    client.force_login(alex)
    body = ask(client, "is my flight on time?").json()
    assert body["answer"] == "Here is what I found."
    assert body["model"] == "fake-model" and body["status"] == "answered"
    assert set(body["timings"]) == {"context_ms", "first_token_ms", "total_ms"}
    kinds = {s["kind"] for s in body["sources"]}
    assert "booking" in kinds and all(s["as_of"] and "version" in s for s in body["sources"])
    assert "Alex Morgan" in llm.last_prompt()


def test_streaming_sends_tokens_then_the_final_json(alex: User, llm: FakeLLM) -> None:
    async def stream() -> tuple[str, str]:
        client = AsyncClient()
        await client.aforce_login(alex)
        body = json.dumps({"message": "hello", "stream": True})
        response = await client.post(API, body, content_type="application/json")
        chunks = [chunk async for chunk in response.streaming_content]  # type: ignore[attr-defined]
        return response["Content-Type"], b"".join(chunks).decode()

    content_type, text = async_to_sync(stream)()
    assert content_type.startswith("text/event-stream")
    events = [block.split("\n", 1) for block in text.strip().split("\n\n")]
    names = [name.removeprefix("event: ") for name, _ in events]
    assert names[:2] == ["turn", "context"] and names[-1] == "done"
    tokens = [
        json.loads(data.removeprefix("data: "))["text"] for name, data in events if "token" in name
    ]
    final = json.loads(events[-1][1].removeprefix("data: "))
    assert "".join(tokens) == final["answer"] == "Here is what I found."


def test_a_conversation_continues_and_another_travellers_is_a_404(
    client: Client, alex: User, stranger: User, llm: FakeLLM
) -> None:
    client.force_login(alex)
    first = ask(client, "hello").json()
    second = ask(client, "and then?", conversation_id=first["conversation_id"]).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert "hello" in llm.last_prompt()  # the history went with the second question
    client.force_login(stranger)
    refused = ask(client, "let me in", conversation_id=first["conversation_id"])
    assert refused.status_code == 404 and refused.json()["error"]
    assert client.get(f"/api/chat/conversations/{first['conversation_id']}").status_code == 404
    assert Turn.objects.count() == 2


def test_bad_requests_are_400s_and_anonymous_is_401(client: Client, stranger: User) -> None:
    assert ask(client, "hi").status_code == 401
    client.force_login(stranger)
    assert ask(client, "").status_code == 400
    assert ask(client, "x" * 2001).status_code == 400
    assert client.post(API, "not json", content_type="application/json").status_code == 400
    assert ask(client, "hi", conversation_id="not-a-uuid").status_code == 404


def test_a_time_zone_that_is_not_an_iana_name_is_a_400(client: Client, stranger: User) -> None:
    client.force_login(stranger)
    response = ask(client, "hi", time_zone="Mars/Olympus_Mons")
    assert response.status_code == 400
    assert "unknown time_zone 'Mars/Olympus_Mons'" in response.json()["error"]
    assert not Turn.objects.exists()


def test_the_travellers_time_zone_says_what_today_is(
    client: Client, stranger: User, llm: FakeLLM
) -> None:
    client.force_login(stranger)
    assert ask(client, "hi", time_zone="Australia/Sydney").status_code == 200
    assert 'time_zone="Australia/Sydney"' in llm.last_prompt()


def test_posts_need_the_csrf_token(stranger: User, llm: FakeLLM) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(stranger)
    assert ask(strict, "hi").status_code == 403


def test_an_unreachable_model_fails_the_turn_with_a_message(
    client: Client, stranger: User, llm: FakeLLM
) -> None:
    llm.failing = True
    client.force_login(stranger)
    body = ask(client, "hello").json()
    assert body["status"] == "failed" and "unreachable" in body["error"]
    assert Turn.objects.get().status == "failed"
    assert len(llm.requests) == 3  # retried before the first token, then given up


def test_every_turn_is_published_to_chat_turns_per_the_contract(
    client: Client, alex: User, llm: FakeLLM
) -> None:
    client.force_login(alex)
    body = ask(client, "is my flight on time?").json()
    (event,) = published(contract.CHAT_TURNS)
    assert (event.turn_id, event.status) == (body["turn_id"], "answered")
    assert event.provenance.profile_records and event.timings_ms.total is not None
    assert event.user_id == str(alex.pk)


def test_a_rating_replaces_the_earlier_one_and_is_published(
    client: Client, alex: User, stranger: User, llm: FakeLLM
) -> None:
    client.force_login(alex)
    turn_id = ask(client, "hello").json()["turn_id"]
    url = f"/api/chat/turns/{turn_id}/rating"
    client.post(url, json.dumps({"rating": 1}), content_type="application/json")
    answer = client.post(
        url, json.dumps({"rating": -1, "comment": "wrong gate"}), content_type="application/json"
    )
    assert answer.status_code == 200
    assert Rating.objects.get().rating == -1
    events = published(contract.FEEDBACK)
    assert [e.rating for e in events] == [1, -1] and events[-1].comment == "wrong gate"
    client.force_login(stranger)
    other = client.post(url, json.dumps({"rating": 1}), content_type="application/json")
    assert other.status_code == 404
    bad = client.post(url, json.dumps({"rating": 5}), content_type="application/json")
    assert bad.status_code == 400


def test_grounding_flags_a_number_the_data_does_not_hold(
    client: Client, alex: User, llm: FakeLLM
) -> None:
    llm.reply = "Your flight BA999 leaves at 23:59 and costs 1.00 GBP."
    client.force_login(alex)
    body = ask(client, "is my flight on time?").json()
    assert set(body["ungrounded_numbers"]) == {"BA999", "23:59", "1.00 GBP"}
    assert "not from our data" in body["answer_html"]
    assert Turn.objects.get().provenance["ungrounded_numbers"]


def test_a_models_tool_call_adds_live_facts_to_the_answer(
    client: Client, alex: User, llm: FakeLLM, settings: SettingsWrapper
) -> None:
    flight = Flight.objects.filter(departure_at__gte=NOW + timedelta(days=1)).first()
    assert flight is not None
    settings.CHAT_TOOLS = True
    llm.calls = [("flight_status", {"flight_number": flight.flight_number})]
    client.force_login(alex)
    body = ask(client, "hello").json()
    assert flight.flight_id in {s["id"] for s in body["sources"] if s["kind"] == "flight"}
    first, second = llm.requests
    assert first["tools"] and second["messages"][-1]["role"] == "tool"
    assert f"flight {flight.flight_id}" in second["messages"][-1]["content"]
    turn = Turn.objects.get()
    assert {"kind": "flight", "id": flight.flight_id, "version": flight.version} in (
        turn.provenance["inventory"]
    )
    assert turn.tokens == {"prompt": 200, "completion": 5 + 5}  # both rounds count


def test_a_name_of_two_places_we_serve_is_asked_back_without_the_model(
    client: Client, stranger: User, llm: FakeLLM
) -> None:
    day = (NOW + timedelta(days=2)).date()
    flights = [
        flight_row(
            f"{number}-{day}",
            carrier=number[:2],
            flight_number=number,
            origin="SEA",
            destination=code,
            departure_at=f"{day}T14:00:00Z",
            arrival_at=f"{day}T20:00:00Z",
        )  # fmt: skip
        for code, number in (("PDX", "AS100"), ("PWM", "B6200"))
    ]
    with transaction.atomic():
        apply_rows(flights_apply, contract.FLIGHTS, flights)
    client.force_login(stranger)
    body = ask(client, "flights from Seattle to Portland tomorrow").json()
    assert body["answer"] == (
        "Which Portland do you mean: Portland (Oregon, US) or Portland (Maine, US)?"
    )
    assert body["status"] == "answered" and llm.requests == []
