"""The chat websocket: a traveller asks, the answer streams back token by token.

Frames are JSON. The client sends `{"type": "ask", "message", "conversation_id", "time_zone"}`
(the browser's IANA zone, optional) and `{"type": "stop"}`; the server sends `turn`,
`context` (the live facts, before the first token), `token`, `done` and `error`. A stop
(from this tab, or from another tab of the same traveller on any ASGI process, through the
Redis channel layer) ends the upstream request; a dropped connection stores the turn as
stopped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from importlib import import_module
from typing import Any

from channels.auth import get_user
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import User

from chat.bodies import AskBody, BodyInvalid, body_convert
from chat.limits import ask_admit
from chat.services import ChatError, message_clean, turn_run
from travelbot.limits import Refused, leases_kept, refused_frame, scope_address

logger = logging.getLogger(__name__)
UNAUTHORISED = 4401


SIGNED_OUT = {
    "type": "error",
    "error": "signed_out",
    "message": "you are signed out; sign in again to ask",
    "status": 401,
}


def user_group(user_id: int) -> str:
    return f"chat.user.{user_id}"


async def still_signed_in(scope: dict[str, Any], user: User) -> bool:
    """Whether the connection's session still signs in `user`, read afresh: a log-out in
    another tab, a password change or a deactivation since the socket opened ends it."""
    session = scope.get("session")
    key = getattr(session, "session_key", None)
    if not key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    current = await get_user({"session": store})
    return bool(current.is_authenticated and current.pk == user.pk)


class ChatConsumer(AsyncWebsocketConsumer):
    user: User
    task: asyncio.Task[Any] | None = None
    stop: asyncio.Event
    turn_id: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if not isinstance(user, User) or not user.is_authenticated:
            await self.close(code=UNAUTHORISED)
            return
        self.user, self.stop = user, asyncio.Event()
        await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()  # the turn is stored as stopped, its upstream request closed
        if hasattr(self, "user"):
            await self.channel_layer.group_discard(user_group(self.user.pk), self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            frame = json.loads(text_data or "")
            kind = frame.get("type")
        except (ValueError, AttributeError):
            await self.send_json({"type": "error", "message": "frames are JSON objects"})
            return
        if kind == "ask":
            await self._ask(frame)
        elif kind == "stop":
            await self._stop_everywhere(frame.get("turn_id") or self.turn_id)
        else:
            await self.send_json({"type": "error", "message": f"unknown frame type {kind!r}"})

    async def _ask(self, frame: dict[str, Any]) -> None:
        if not await still_signed_in(self.scope, self.user):
            await self.send_json(SIGNED_OUT)
            await self.close(code=UNAUTHORISED)
            return
        if self.task is not None and not self.task.done():
            await self.send_json({"type": "error", "message": "wait for the answer, or stop it"})
            return
        try:
            ask = body_convert(frame, AskBody)
            message_clean(ask.message)
        except (BodyInvalid, ChatError) as exc:
            await self.send_json({"type": "error", "message": str(exc), "status": 400})
            return
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self._answer(ask))

    async def _answer(self, ask: Any) -> None:
        try:
            leases = await ask_admit(user_id=self.user.pk, address=scope_address(self.scope))
            async with leases_kept(leases):
                await turn_run(
                    user=self.user,
                    conversation_id=ask.conversation_id,
                    message=ask.message,
                    emit=self._emit,
                    stop=self.stop,
                    time_zone=ask.time_zone,
                )
        except Refused as refused:
            await self.send_json(refused_frame(refused))
        except ChatError as exc:
            await self.send_json({"type": "error", "message": str(exc), "status": exc.status})
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("a chat turn failed")
            await self.send_json({"type": "error", "message": "something went wrong; try again"})
        finally:
            self.turn_id = None

    async def _emit(self, event: dict[str, Any]) -> None:
        if event["type"] == "turn":
            self.turn_id = event["turn_id"]
        await self.send_json(event)

    async def _stop_everywhere(self, turn_id: str | None) -> None:
        if turn_id:
            await self.channel_layer.group_send(
                user_group(self.user.pk), {"type": "chat.stop", "turn_id": str(turn_id)}
            )

    async def chat_stop(self, message: dict[str, Any]) -> None:
        """A stop for one of this traveller's turns, from any of their connections."""
        if message["turn_id"] == self.turn_id:
            self.stop.set()

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(content))
