"""The chat websocket: who may connect, streaming, stop, and a dropped connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels_redis.utils import create_pool
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from chat.models import Turn
from tests.chat.fake_llm import FakeLLM
from tests.chat.ws import Websocket as WebsocketCommunicator
from travelbot.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def session_cookie(user: User) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    return (
        b"cookie",
        f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode(),
    )


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return async_to_sync(scenario)()


async def frames_until(socket: WebsocketCommunicator, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await socket.receive_from(timeout=10))
        frames.append(frame)
        if frame["type"] in (kind, "error"):
            return frames


def test_anonymous_connections_are_refused(db: None) -> None:
    async def scenario() -> tuple[bool, int | None]:
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN])
        connected, code = await socket.connect()
        await socket.disconnect()
        return connected, code

    assert run(scenario) == (False, 4401)


def test_cross_origin_connections_are_refused(stranger: User) -> None:
    cookie = session_cookie(stranger)

    async def scenario() -> bool:
        socket = WebsocketCommunicator(
            application, "/ws/chat/", headers=[(b"origin", b"https://evil.example"), cookie]
        )
        connected, _ = await socket.connect()
        await socket.disconnect()
        return connected

    assert run(scenario) is False


def test_an_answer_streams_in_order_after_its_live_facts(alex: User, llm: FakeLLM) -> None:
    llm.reply = " ".join(f"w{n}" for n in range(30))
    cookie = session_cookie(alex)

    async def scenario() -> list[dict[str, Any]]:
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, cookie])
        assert (await socket.connect())[0]
        await socket.send_to(json.dumps({"type": "ask", "message": "is my flight on time?"}))
        frames = await frames_until(socket, "done")
        await socket.disconnect()
        return frames

    frames = run(scenario)
    kinds = [f["type"] for f in frames]
    assert kinds[:2] == ["turn", "context"] and kinds[-1] == "done"
    assert any(f["kind"] == "booking" for f in frames[1]["facts"])
    text = "".join(f["text"] for f in frames if f["type"] == "token")
    assert text == llm.reply == frames[-1]["answer"]


def test_stop_ends_the_answer_upstream_and_stores_it_as_stopped(
    stranger: User, llm: FakeLLM
) -> None:
    llm.reply = " ".join(f"w{n}" for n in range(200))
    llm.delay_s = 0.02
    cookie = session_cookie(stranger)

    async def scenario() -> dict[str, Any]:
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, cookie])
        await socket.connect()
        await socket.send_to(json.dumps({"type": "ask", "message": "tell me everything"}))
        frames = await frames_until(socket, "token")
        await socket.send_to(json.dumps({"type": "stop", "turn_id": frames[0]["turn_id"]}))
        done = (await frames_until(socket, "done"))[-1]
        await socket.disconnect()
        return done

    done = run(scenario)
    assert done["status"] == "stopped"
    assert 0 < len(done["answer"].split()) < 200
    assert llm.disconnected.wait(5)  # the model's stream was closed, not read to its end
    assert Turn.objects.get().status == "stopped"


def test_a_dropped_connection_keeps_the_turn_as_stopped_once(stranger: User, llm: FakeLLM) -> None:
    llm.reply = " ".join(f"w{n}" for n in range(200))
    llm.delay_s = 0.02
    cookie = session_cookie(stranger)

    async def scenario() -> None:
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, cookie])
        await socket.connect()
        await socket.send_to(json.dumps({"type": "ask", "message": "tell me everything"}))
        await frames_until(socket, "token")
        await socket.disconnect()
        await asyncio.sleep(0.5)

    run(scenario)
    turn = Turn.objects.get()
    assert turn.status == "stopped" and turn.answer.startswith("w0")


def test_another_travellers_conversation_cannot_be_continued(
    alex: User, stranger: User, llm: FakeLLM
) -> None:
    client = Client()
    client.force_login(alex)
    mine = client.post(
        "/api/chat/messages", json.dumps({"message": "hi"}), content_type="application/json"
    ).json()
    cookie = session_cookie(stranger)

    async def scenario() -> dict[str, Any]:
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, cookie])
        await socket.connect()
        ask = {"type": "ask", "message": "hi", "conversation_id": mine["conversation_id"]}
        await socket.send_to(json.dumps(ask))
        frame = json.loads(await socket.receive_from(timeout=10))
        await socket.disconnect()
        return frame

    assert run(scenario) == {"type": "error", "message": "no such conversation", "status": 404}
    assert Turn.objects.count() == 1


def test_an_ask_with_an_unknown_time_zone_gets_an_error_frame(stranger: User, llm: FakeLLM) -> None:
    cookie = session_cookie(stranger)

    async def scenario() -> list[dict[str, Any]]:
        socket = WebsocketCommunicator(application, "/ws/chat/", headers=[ORIGIN, cookie])
        await socket.connect()
        await socket.send_to(json.dumps({"type": "ask", "message": "hi", "time_zone": "CET+1"}))
        refused = await frames_until(socket, "error")
        ask = {"type": "ask", "message": "hi", "time_zone": "Europe/Madrid"}
        await socket.send_to(json.dumps(ask))
        answered = await frames_until(socket, "done")
        await socket.disconnect()
        return [*refused, answered[-1]]

    refused, done = run(scenario)
    assert refused["status"] == 400 and "unknown time_zone 'CET+1'" in refused["message"]
    assert done["type"] == "done" and Turn.objects.count() == 1
    assert 'time_zone="Europe/Madrid"' in llm.last_prompt()


def test_the_channel_layer_reads_longer_than_its_blocking_pop(db: None) -> None:
    """Otherwise an idle consumer's wait for messages can end in a read timeout that closes
    the traveller's websocket (seen at 50 concurrent streams)."""
    layer = get_channel_layer()
    for host in layer.hosts:
        pool = create_pool(host)
        assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout


def test_the_channel_layer_pool_takes_a_burst_of_connecting_travellers(db: None) -> None:
    layer = get_channel_layer()
    for host in layer.hosts:
        assert create_pool(host).max_connections >= 1000
