"""A chat turn from question to stored answer, shared by the websocket and the HTTP API.

`turn_run` opens the turn, assembles its context (the live facts go to the traveller at
once, before the model has read the prompt), streams the model's answer, checks its numbers
against the context and stores the turn with its provenance, publishing it to chat.turns
through the outbox. A stop, a dropped connection or a model failure still stores the turn
(stopped or failed), once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from chat.bodies import RatingBody
from chat.context import TurnContext, turn_context
from chat.grounding import ungrounded_numbers
from chat.llm import ModelUnavailable, ToolCall, Usage, stream_answer
from chat.models import Conversation, Rating, Turn
from chat.prompts import tool_result_text, turn_messages
from chat.rendering import answer_html
from chat.tools import TOOLS, tool_run
from feedback.labels import comment_label_queue
from travelbot.outbox import outbox_add
from travelbot.streams import contract
from travelbot.timefmt import iso_z, zone_named

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
# Rounds of function calls a turn may make before the model must answer from what it has.
MAX_TOOL_ROUNDS = 2
TITLE_CHARS = 80
Emit = Callable[[dict[str, Any]], Awaitable[None]]
SOMETHING_WENT_WRONG = "something went wrong with this answer; please try again"


class ChatError(Exception):
    """A request the chat refuses, with a message for the traveller."""

    status = 400


class ConversationNotFound(ChatError):
    status = 404

    def __init__(self) -> None:
        super().__init__("no such conversation")


def message_clean(message: object) -> str:
    if not isinstance(message, str) or not message.strip():
        raise ChatError("write a message")
    message = message.strip()
    if len(message) > MAX_MESSAGE_CHARS:
        raise ChatError(f"a message can have at most {MAX_MESSAGE_CHARS} characters")
    return message


def conversation_of(user: User, conversation_id: object) -> Conversation:
    """The user's own conversation; anyone else's does not exist for them."""
    try:
        return Conversation.objects.get(pk=uuid.UUID(str(conversation_id)), user=user)
    except (ValueError, Conversation.DoesNotExist):
        raise ConversationNotFound from None


def turn_open(*, user: User, conversation_id: object, question: str) -> Turn:
    if conversation_id in (None, ""):
        conversation = Conversation.objects.create(user=user, title=question[:TITLE_CHARS])
    else:
        conversation = conversation_of(user, conversation_id)
    return Turn.objects.create(conversation=conversation, question=question)


async def turn_run(
    *,
    user: User,
    conversation_id: object,
    message: object,
    emit: Emit,
    stop: asyncio.Event | None = None,
    time_zone: str | None = None,
) -> dict[str, Any]:
    """Answer one message; emits `turn`, `context`, `token`... and `done` events. Returns the
    final JSON. ChatError is raised before anything is stored. `time_zone` is the
    traveller's IANA zone, when their browser sent it."""
    started = time.perf_counter()
    question = message_clean(message)
    zone = zone_named(time_zone) if time_zone else None
    if time_zone and zone is None:
        raise ChatError(f"unknown time zone {time_zone!r}")
    turn = await database_sync_to_async(turn_open)(
        user=user, conversation_id=conversation_id, question=question
    )
    await emit(
        {"type": "turn", "turn_id": str(turn.pk), "conversation_id": str(turn.conversation_id)}
    )
    context: TurnContext | None = None
    progress = _Progress(started=started)
    ended = _Ended(Turn.Status.ANSWERED)
    try:
        context = await database_sync_to_async(turn_context)(
            user=user, conversation=turn.conversation, message=question, time_zone=zone
        )
        turn.prompt = turn_messages(context, question)
        await emit(_context_event(context))
        await _answer(turn, context, progress, emit, stop)
        if stop is not None and stop.is_set():
            ended = _Ended(Turn.Status.STOPPED)
    except ModelUnavailable as exc:
        logger.warning("turn %s: %s (%s)", turn.pk, exc, exc.detail)
        ended = _Ended(Turn.Status.FAILED, str(exc), exc.detail)
    except asyncio.CancelledError:  # the connection dropped: keep what was said
        stopped = _Ended(Turn.Status.STOPPED)
        await asyncio.shield(_finish(turn, context, progress, stopped))
        raise
    except Exception as exc:  # a turn is never left streaming: it ends, failed, and says so
        logger.exception("turn %s failed", turn.pk)
        ended = _Ended(Turn.Status.FAILED, SOMETHING_WENT_WRONG, f"{type(exc).__name__}: {exc}")
    final = await _finish(turn, context, progress, ended)
    await emit({"type": "done", **final})
    return final


@dataclass
class _Progress:
    """What a turn has had from the model so far."""

    started: float
    parts: list[str] = field(default_factory=list)
    usage: list[Usage] = field(default_factory=list)
    first_token_ms: float | None = None


@dataclass(frozen=True)
class _Ended:
    status: str
    error: str = ""  # for the traveller
    detail: str = ""  # for staff


async def _answer(
    turn: Turn, context: TurnContext, progress: _Progress, emit: Emit, stop: asyncio.Event | None
) -> None:
    """Stream the model's answer into `progress`, with its rounds of function calls."""
    parts = progress.parts
    if context.clarification:
        progress.first_token_ms = (time.perf_counter() - progress.started) * 1000
        parts.append(context.clarification)
        await emit({"type": "token", "text": context.clarification})
        return
    tools = TOOLS if settings.CHAT_TOOLS else None
    for round_ in range(MAX_TOOL_ROUNDS + 1):
        calls: list[ToolCall] = []
        said = len(parts)
        answer = stream_answer(
            turn.prompt,
            usage=progress.usage,
            tools=tools if round_ < MAX_TOOL_ROUNDS else None,
            calls=calls,
        )
        async for text in until_stopped(answer, stop):
            if progress.first_token_ms is None:
                progress.first_token_ms = (time.perf_counter() - progress.started) * 1000
            parts.append(text)
            await emit({"type": "token", "text": text})
        if not calls or (stop is not None and stop.is_set()):
            break
        await _use_tools(turn, context, calls, said_first="".join(parts[said:]), emit=emit)


def _context_event(context: TurnContext) -> dict[str, Any]:
    return {
        "type": "context",
        "facts": [f.json() for f in context.facts],
        "sources": context.sources(),
    }


async def _use_tools(
    turn: Turn, context: TurnContext, calls: list[ToolCall], *, said_first: str, emit: Emit
) -> None:
    """Run the model's function calls; their facts join the turn's (cards, sources,
    provenance, grounding) and their results follow the call in the prompt."""
    results = await database_sync_to_async(
        lambda: [tool_run(name=c.name, arguments=c.arguments, context=context) for c in calls]
    )()
    message = {"role": "assistant", "content": said_first or None}
    turn.prompt.append(message | {"tool_calls": [call.message() for call in calls]})
    for call, result in zip(calls, results, strict=True):
        context.add(result.facts, result.chunks)
        turn.prompt.append(
            {"role": "tool", "tool_call_id": call.id, "content": tool_result_text(result)}
        )
    await emit(_context_event(context))


async def until_stopped(
    stream: AsyncIterator[str], stop: asyncio.Event | None
) -> AsyncIterator[str]:
    """The stream's items until `stop` is set, even while waiting for the next one (the
    first token of a long prompt can take seconds): the pending read is cancelled, which
    closes the upstream request."""
    if stop is None:
        async for item in stream:
            yield item
        return
    stopped = asyncio.ensure_future(stop.wait())
    try:
        while True:
            following = asyncio.ensure_future(anext(stream))
            await asyncio.wait({following, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
                return
            try:
                yield following.result()
            except StopAsyncIteration:
                return
    finally:
        stopped.cancel()
        await _close(stream)


async def _close(stream: AsyncIterator[str]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is not None:
        # RuntimeError: the cancellation closed it already.
        with contextlib.suppress(RuntimeError, asyncio.CancelledError):
            await aclose()


async def _finish(
    turn: Turn, context: TurnContext | None, progress: _Progress, ended: _Ended
) -> dict[str, Any]:
    turn.answer = "".join(progress.parts)
    turn.status, turn.error, turn.error_detail = ended.status, ended.error, ended.detail[:1000]
    turn.model = settings.OPENAI_MODEL
    if context is not None:  # else the turn failed while its context was assembled
        turn.facts = [f.json() for f in context.facts]
        turn.sources = context.sources()
        turn.provenance = context.provenance()
        turn.provenance["ungrounded_numbers"] = ungrounded_numbers(
            turn.answer, context.grounding_text(), carriers=context.carriers
        )
    first_token_ms = progress.first_token_ms
    turn.timings_ms = {
        "context": None if context is None else round(context.context_ms),
        "first_token": None if first_token_ms is None else round(first_token_ms),
        "total": round((time.perf_counter() - progress.started) * 1000),
    }
    # Every request of the turn counts: a function call is a round of its own.
    usage = progress.usage
    turn.tokens = {
        "prompt": sum(u.prompt for u in usage),
        "completion": sum(u.completion for u in usage),
    }
    turn.finished_at = timezone.now()
    await database_sync_to_async(turn_store)(turn)
    return turn_json(turn)


def turn_store(turn: Turn) -> None:
    """Store the finished turn and publish it to chat.turns, in one transaction."""
    with transaction.atomic():
        turn.save()
        Conversation.objects.filter(pk=turn.conversation_id).update(updated_at=timezone.now())
        outbox_add(
            topic=contract.CHAT_TURNS.name,
            key={"conversation_id": str(turn.conversation_id)},
            value=turn_event(turn),
        )


def turn_event(turn: Turn) -> dict[str, Any]:
    """The contract's chat.turns event of a finished turn."""
    return {
        "event_id": str(uuid.uuid4()),
        "conversation_id": str(turn.conversation_id),
        "turn_id": str(turn.pk),
        "user_id": str(turn.conversation.user_id),
        "occurred_at": iso_z(turn.finished_at),
        "status": turn.status,
        "question": turn.question,
        "answer": turn.answer,
        "model": turn.model,
        "timings_ms": {k: v for k, v in turn.timings_ms.items() if v is not None},
        "tokens": turn.tokens,
        "provenance": turn.provenance,
    }


def turn_json(turn: Turn) -> dict[str, Any]:
    """What the API answers and the page renders for a turn."""
    timings = turn.timings_ms or {}
    ungrounded = (turn.provenance or {}).get("ungrounded_numbers", [])
    return {
        "conversation_id": str(turn.conversation_id),
        "turn_id": str(turn.pk),
        "status": turn.status,
        "question": turn.question,
        "answer": turn.answer,
        "answer_html": answer_html(turn.answer, ungrounded),
        "error": turn.error or None,
        "sources": turn.sources,
        "facts": turn.facts,
        "ungrounded_numbers": ungrounded,
        "model": turn.model,
        "timings": {
            "context_ms": timings.get("context"),
            "first_token_ms": timings.get("first_token"),
            "total_ms": timings.get("total"),
        },
    }


def turns_abandoned_close(*, user: User) -> int:
    """Turns left streaming by a process that died: shown as stopped, never resumed twice."""
    cutoff = timezone.now() - settings.CHAT_TURN_TIMEOUT
    return Turn.objects.filter(
        conversation__user=user, status=Turn.Status.STREAMING, created_at__lt=cutoff
    ).update(status=Turn.Status.STOPPED, error="the answer was interrupted")


def rating_record(*, user: User, turn_id: object, body: RatingBody) -> Rating:
    """Rate one of the user's own turns (a later rating replaces the earlier one) and publish
    it to feedback.events. `body` was decoded with the event's own types (chat.bodies)."""
    try:
        turn = Turn.objects.select_related("conversation").get(
            pk=uuid.UUID(str(turn_id)), conversation__user=user
        )
    except (ValueError, Turn.DoesNotExist):
        raise ConversationNotFound from None
    now = timezone.now()
    event = msgspec.convert(
        {
            "event_id": str(uuid.uuid4()),
            "conversation_id": str(turn.conversation_id),
            "turn_id": str(turn.pk),
            "user_id": str(user.pk),
            "rating": body.rating,
            "comment": body.comment or None,
            "occurred_at": now,
        },
        type=contract.FeedbackEvent,
        strict=True,
    )
    with transaction.atomic():
        saved, _ = Rating.objects.update_or_create(
            turn=turn,
            user=user,
            defaults={"rating": event.rating, "comment": body.comment or "", "occurred_at": now},
        )
        comment_label_queue(rating=saved)
        outbox_add(
            topic=contract.FEEDBACK.name,
            key={"conversation_id": str(turn.conversation_id)},
            value=msgspec.to_builtins(event),
        )
    return saved
