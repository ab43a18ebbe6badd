"""The chat page, the chat's HTTP API and the staff view of a turn."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_POST, require_safe

from chat.bodies import AskBody, BodyInvalid, RatingBody, body_decode
from chat.limits import ask_admit, rating_rate_take
from chat.models import Turn
from chat.selectors import conversation_turns, conversations_of
from chat.services import (
    ChatError,
    ConversationNotFound,
    conversation_of,
    message_clean,
    rating_record,
    turn_json,
    turn_run,
    turns_abandoned_close,
)
from travelbot.access import signed_in, staff_page
from travelbot.limits import Lease, Refused, client_address, leases_kept, refused_response


@login_required
@require_safe
def chat_page(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    turns_abandoned_close(user=user)
    current = None
    if request.GET.get("c"):
        try:
            current = conversation_of(user, request.GET["c"])
        except ConversationNotFound:
            raise Http404("no such conversation") from None
    context = {
        "conversations": conversations_of(user),
        "current": current,
        "turns": [turn_json(t) for t in conversation_turns(current)] if current else [],
    }
    return render(request, "chat/chat.html", context)


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


async def messages_api(request: HttpRequest) -> HttpResponseBase:
    """POST {"message", "conversation_id", "stream", "time_zone"}: the answer as JSON, or as
    server-sent events (`token` events, then one `done` event carrying that JSON). The body
    is checked before any limit applies; a limit refuses with 429 (travelbot.limits)."""
    user = await request.auser()
    if not isinstance(user, User) or not user.is_authenticated:
        return _error("authentication required", 401)
    if request.method != "POST":
        return _error("use POST", 405)
    try:
        body = body_decode(request.body or b"", AskBody)
        message_clean(body.message)
        if body.conversation_id:
            await database_sync_to_async(conversation_of)(user, body.conversation_id)
    except BodyInvalid as exc:
        return _error(str(exc), 400)
    except ChatError as exc:
        return _error(str(exc), exc.status)
    try:
        leases = await ask_admit(user_id=user.pk, address=client_address(request))
    except Refused as refused:
        return refused_response(refused)
    if body.stream:
        # The leases are kept from the first read of the stream; if it is never read (the
        # client left at once) they expire on their own after CHAT_LEASE_TTL_S.
        response = StreamingHttpResponse(
            _events(user, body, leases), content_type="text/event-stream; charset=utf-8"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"
        return response

    async def ignore(event: dict[str, Any]) -> None:
        return None

    async with leases_kept(leases):
        final = await turn_run(
            user=user,
            conversation_id=body.conversation_id,
            message=body.message,
            emit=ignore,
            time_zone=body.time_zone,
        )
    return JsonResponse(final)


async def _events(user: User, body: Any, leases: list[Lease]) -> AsyncIterator[str]:
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def put(event: dict[str, Any]) -> None:
        await queue.put(event)

    async def answer() -> None:
        try:
            async with leases_kept(leases):
                await turn_run(
                    user=user,
                    conversation_id=body.conversation_id,
                    message=body.message,
                    emit=put,
                    time_zone=body.time_zone,
                )
        except ChatError as exc:
            await queue.put({"type": "error", "message": str(exc)})
        finally:
            await queue.put(None)

    task = asyncio.create_task(answer())
    try:
        while (event := await queue.get()) is not None:
            kind = event.pop("type")
            yield f"event: {kind}\ndata: {json.dumps(event)}\n\n"
    finally:
        if not task.done():  # the client went away: the turn is stored as stopped
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


@login_required
@require_safe
def conversation_api(request: HttpRequest, conversation_id: str) -> JsonResponse:
    user = signed_in(request)
    try:
        conversation = conversation_of(user, conversation_id)
    except ConversationNotFound as exc:
        return _error(str(exc), 404)
    turns = [turn_json(t) for t in conversation_turns(conversation)]
    return JsonResponse(
        {"conversation_id": str(conversation.pk), "title": conversation.title, "turns": turns}
    )


@require_POST
def rating_api(request: HttpRequest, turn_id: str) -> JsonResponse:
    """POST {"rating": 1 | -1, "comment"}: checked with the feedback event's own types first
    (a malformed body is a 400 even past the limit), then rate-limited."""
    if not request.user.is_authenticated:
        return _error("authentication required", 401)
    user = signed_in(request)
    try:
        body = body_decode(request.body or b"", RatingBody)
        rating_rate_take(user_id=user.pk, address=client_address(request))
        rating = rating_record(user=user, turn_id=turn_id, body=body)
    except BodyInvalid as exc:
        return _error(str(exc), 400)
    except Refused as refused:
        return refused_response(refused)
    except ChatError as exc:
        return _error(str(exc), exc.status)
    return JsonResponse({"turn_id": turn_id, "rating": rating.rating, "comment": rating.comment})


@staff_page
@require_safe
def staff_turn(request: HttpRequest, turn_id: str) -> HttpResponse:
    turn = get_object_or_404(Turn.objects.select_related("conversation__user"), pk=turn_id)
    context = {
        "turn": turn,
        "data": turn_json(turn),
        "provenance_json": json.dumps(turn.provenance, indent=2),
    }
    return render(request, "chat/staff_turn.html", context)


@staff_page
@require_safe
def staff_turns(request: HttpRequest) -> HttpResponse:
    turns = Turn.objects.select_related("conversation__user").order_by("-created_at")[:100]
    return render(request, "chat/staff_turns.html", {"turns": turns})
