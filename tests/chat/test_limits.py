"""What one account or address may ask of the chat, checked bodies, and turns that always end."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings as django_settings
from django.contrib.auth.models import User
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from chat.models import Rating, Turn
from tests.chat.fake_llm import FakeLLM
from tests.chat.ws import Websocket
from tests.conftest import LimitsClock
from travelbot.asgi import application
from travelbot.models import OutboxMessage
from travelbot.streams import contract

pytestmark = pytest.mark.django_db(transaction=True)
API = "/api/chat/messages"
ORIGIN = (b"origin", b"http://localhost")


def ask(client: Client, message: str, **extra: Any) -> Any:
    return client.post(
        API, json.dumps({"message": message}), content_type="application/json", **extra
    )


def asked_at_once(users: list[User], message: str = "hello") -> list[dict[str, Any]]:
    """Each user's ask, all sent at once, each on its own websocket (the test client serves
    HTTP requests one at a time); the last frame each got: `done` or `error`."""
    cookies = [session_cookie(client_for(user)) for user in users]

    async def one(cookie: tuple[bytes, bytes]) -> dict[str, Any]:
        socket = Websocket(application, "/ws/chat/", headers=[ORIGIN, cookie])
        assert (await socket.connect(timeout=30))[0]
        await socket.send_to(json.dumps({"type": "ask", "message": message}))
        last = (await frames_until(socket, "done"))[-1]
        await socket.disconnect(timeout=30)
        return last

    async def all_of_them() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(one(cookie) for cookie in cookies)))

    return async_to_sync(all_of_them)()


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def assert_refused_frame(frame: dict[str, Any], reason: str) -> None:
    assert frame["type"] == "error" and frame["error"] == reason, frame
    assert frame["retry_after"] >= 1 and str(frame["retry_after"]) in frame["message"]


def assert_refused(response: Any, reason: str) -> None:
    body = response.json()
    assert response.status_code == 429 and body["error"] == reason, body
    assert body["retry_after"] >= 1 and response["Retry-After"] == str(body["retry_after"])


def most_at_once(turns: list[Turn]) -> int:
    edges = sorted([(t.created_at, 1) for t in turns] + [(t.finished_at, -1) for t in turns])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def travellers(count: int) -> list[User]:
    return [User.objects.create_user(f"t{n}", password="x") for n in range(count)]


def test_24_asks_at_once_from_one_account_run_at_most_its_concurrent_turns(
    stranger: User, llm: FakeLLM
) -> None:
    llm.first_token_delay_s = 3.0  # every ask arrives while the first ones still run
    frames = asked_at_once([stranger] * 24)
    answered = [f for f in frames if f["type"] == "done"]
    assert 1 <= len(answered) <= django_settings.CHAT_CONCURRENT_TURNS == 2
    for frame in frames:
        if frame["type"] != "done":
            assert_refused_frame(frame, "busy")
    assert most_at_once(list(Turn.objects.all())) <= 2
    assert Turn.objects.count() == len(answered)


def test_asking_past_the_rate_is_refused_with_retry_after(
    client: Client,
    stranger: User,
    llm: FakeLLM,
    settings: SettingsWrapper,
    limits_clock: LimitsClock,
) -> None:
    settings.CHAT_ASKS_PER_MINUTE = 2
    client.force_login(stranger)
    assert [ask(client, "hi").status_code for _ in range(2)] == [200, 200]
    refused = ask(client, "hi")
    assert_refused(refused, "rate_limited")
    assert refused.json()["retry_after"] == 30
    limits_clock.advance(30)
    assert ask(client, "hi").status_code == 200


def test_an_address_is_limited_whoever_asks_from_it(
    client: Client, llm: FakeLLM, settings: SettingsWrapper, limits_clock: LimitsClock
) -> None:
    settings.CHAT_ASKS_PER_MINUTE_PER_ADDRESS = 2
    first, second, third = travellers(3)
    for user in (first, second):
        client.force_login(user)
        assert ask(client, "hi").status_code == 200
    client.force_login(third)
    assert_refused(ask(client, "hi"), "rate_limited")
    assert ask(client, "hi", REMOTE_ADDR="198.51.100.7").status_code == 200


def test_a_full_model_queue_tells_the_traveller_busy(
    llm: FakeLLM, settings: SettingsWrapper
) -> None:
    settings.CHAT_MODEL_CONCURRENCY, settings.CHAT_MODEL_QUEUE = 1, 1
    llm.first_token_delay_s = 3.0
    frames = asked_at_once(travellers(3))
    kinds = sorted(f["type"] for f in frames)
    assert kinds == ["done", "done", "error"]  # one ran, one waited its turn, one was busy
    assert_refused_frame(next(f for f in frames if f["type"] == "error"), "busy")
    assert len(llm.requests) == 2 and most_at_once(list(Turn.objects.all())) == 1


def test_a_wait_in_the_model_queue_is_bounded(
    stranger: User, client: Client, llm: FakeLLM, settings: SettingsWrapper
) -> None:
    settings.CHAT_MODEL_QUEUE_WAIT_S = 0.5
    settings.CHAT_MODEL_CONCURRENCY = 0  # the model is taken: nobody gets in
    client.force_login(stranger)
    assert_refused(ask(client, "hello"), "busy")
    assert not Turn.objects.exists()


async def frames_until(socket: Websocket, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frames.append(json.loads(await socket.receive_from(timeout=30)))
        if frames[-1]["type"] in (kind, "error"):
            return frames


def test_a_websocket_ask_past_a_limit_gets_an_error_frame_with_the_same_fields(
    stranger: User, llm: FakeLLM, settings: SettingsWrapper, limits_clock: LimitsClock
) -> None:
    settings.CHAT_ASKS_PER_MINUTE = 1
    client = Client()
    client.force_login(stranger)
    cookie = session_cookie(client)

    async def scenario() -> list[dict[str, Any]]:
        socket = Websocket(application, "/ws/chat/", headers=[ORIGIN, cookie])
        assert (await socket.connect())[0]
        frames = []
        for _ in range(2):
            await socket.send_to(json.dumps({"type": "ask", "message": "hi"}))
            frames.append((await frames_until(socket, "done"))[-1])
        await socket.disconnect()
        return frames

    answered, refused = async_to_sync(scenario)()
    assert answered["type"] == "done"
    assert refused["type"] == "error" and refused["error"] == "rate_limited"
    assert refused["retry_after"] == 60


@pytest.mark.parametrize("rating", [True, 1.0, "1", 5, None])
def test_a_rating_the_contract_would_refuse_is_a_400_and_nothing_is_stored(
    client: Client, stranger: User, llm: FakeLLM, rating: object
) -> None:
    client.force_login(stranger)
    turn_id = ask(client, "hello").json()["turn_id"]
    before = OutboxMessage.objects.filter(topic=contract.FEEDBACK.name).count()
    response = client.post(
        f"/api/chat/turns/{turn_id}/rating",
        json.dumps({"rating": rating}),
        content_type="application/json",
    )
    assert response.status_code == 400 and "rating" in response.json()["error"]
    assert not Rating.objects.exists()
    assert OutboxMessage.objects.filter(topic=contract.FEEDBACK.name).count() == before


def test_a_malformed_rating_is_a_400_even_past_the_limit(
    client: Client,
    stranger: User,
    llm: FakeLLM,
    settings: SettingsWrapper,
    limits_clock: LimitsClock,
) -> None:
    settings.CHAT_RATINGS_PER_MINUTE = 1
    client.force_login(stranger)
    url = f"/api/chat/turns/{ask(client, 'hello').json()['turn_id']}/rating"

    def rate(body: object) -> Any:
        return client.post(url, json.dumps(body), content_type="application/json")

    assert rate({"rating": 1}).status_code == 200
    assert rate({"rating": True}).status_code == 400
    assert rate("not an object").status_code == 400
    assert_refused(rate({"rating": -1}), "rate_limited")
    assert Rating.objects.get().rating == 1


def test_a_date_beyond_any_inventory_ends_the_turn_with_an_answer(
    client: Client, alex: User, llm: FakeLLM
) -> None:
    client.force_login(alex)
    for question in ("flights from London to Paris on 9999-12-31", "a hotel in Paris 31/12/9999"):
        body = ask(client, question).json()
        assert body["status"] == "answered", body
    assert not Turn.objects.filter(status=Turn.Status.STREAMING).exists()


def test_a_turn_that_fails_unexpectedly_ends_failed_not_streaming(
    client: Client, stranger: User, llm: FakeLLM, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise OverflowError("date value out of range")

    monkeypatch.setattr("chat.services.turn_context", broken)
    client.force_login(stranger)
    body = ask(client, "hello").json()
    assert body["status"] == "failed" and "try again" in body["error"]
    assert "OverflowError" not in body["error"]
    turn = Turn.objects.get()
    assert turn.status == "failed" and "OverflowError" in turn.error_detail


def test_upstream_error_text_is_for_staff_not_travellers(
    client: Client, stranger: User, llm: FakeLLM
) -> None:
    llm.failing = True  # answers 503 "model overloaded", as a provider quoting a key might
    client.force_login(stranger)
    body = ask(client, "hello").json()
    assert body["status"] == "failed" and "overloaded" not in body["error"]
    assert "503" not in body["error"]
    turn = Turn.objects.get()
    assert "overloaded" in turn.error_detail
    conversation = client.get(f"/api/chat/conversations/{turn.conversation_id}").json()
    assert "overloaded" not in json.dumps(conversation)
    client.force_login(User.objects.create_user("ops", password="x", is_staff=True))
    assert b"model overloaded" in client.get(f"/staff/turns/{turn.pk}/").content


def session_cookie(client: Client) -> tuple[bytes, bytes]:
    value = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={value}".encode())


@pytest.mark.parametrize("how", ["log-out", "deactivation"])
def test_an_open_websocket_refuses_the_next_ask_once_the_traveller_is_signed_out(
    stranger: User, llm: FakeLLM, how: str
) -> None:
    client = Client()
    client.force_login(stranger)
    cookie = session_cookie(client)

    def sign_out() -> None:
        if how == "log-out":
            client.post("/accounts/logout/")
        else:
            User.objects.filter(pk=stranger.pk).update(is_active=False)

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        socket = Websocket(application, "/ws/chat/", headers=[ORIGIN, cookie])
        assert (await socket.connect())[0]
        await sync_to_async(sign_out)()
        await socket.send_to(json.dumps({"type": "ask", "message": "hi"}))
        frame = json.loads(await socket.receive_from(timeout=30))
        closing = await socket.receive_output(timeout=30)
        await socket.wait(timeout=30)
        return frame, closing

    frame, closing = async_to_sync(scenario)()
    assert frame["type"] == "error" and frame["error"] == "signed_out"
    assert closing == {"type": "websocket.close", "code": 4401}
    assert not Turn.objects.exists() and not llm.requests
