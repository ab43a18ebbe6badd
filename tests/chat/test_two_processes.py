"""The chat behind two ASGI processes: a traveller's stop reaches their answer on whichever
process streams it, through the Redis channel layer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from websockets.asyncio.client import ClientConnection, connect

from chat.models import Turn
from harness.stack import free_port
from tests.chat.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def asgi_process(llm: FakeLLM) -> Iterator[int]:
    """uvicorn serving the app on the test database, as a separate process."""
    db = connection.settings_dict
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "OPENAI_BASE_URL": llm.url,
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "travelbot.asgi:application", "--port",
               str(port), "--log-level", "warning"]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("uvicorn did not start") from None
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def cookie_of(user: User) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def next_frame(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] in (kind, "error"):
            return dict(frame)


def test_a_stop_sent_through_another_process_ends_the_answer(stranger: User, llm: FakeLLM) -> None:
    llm.reply = " ".join(f"w{n}" for n in range(300))
    llm.delay_s = 0.02
    cookie = cookie_of(stranger)

    async def scenario(first: int, second: int) -> dict[str, Any]:
        def open_on(port: int) -> Any:
            origin = f"http://127.0.0.1:{port}"
            return connect(f"ws://127.0.0.1:{port}/ws/chat/", origin=origin,  # type: ignore[arg-type]
                           additional_headers={"Cookie": cookie})  # fmt: skip

        async with open_on(first) as asking, open_on(second) as other_tab:
            await asking.send(json.dumps({"type": "ask", "message": "tell me everything"}))
            turn = await next_frame(asking, "turn")
            await next_frame(asking, "token")
            await other_tab.send(json.dumps({"type": "stop", "turn_id": turn["turn_id"]}))
            return await next_frame(asking, "done")

    with asgi_process(llm) as first, asgi_process(llm) as second:
        done = async_to_sync(scenario)(first, second)
    assert done["status"] == "stopped"
    assert 0 < len(done["answer"].split()) < 300
    assert Turn.objects.get().status == "stopped"
