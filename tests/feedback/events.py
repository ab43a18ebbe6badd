"""Contract-shaped feedback.events and chat.turns events, and the windows they land in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from feedback.models import KpiWindow
from feedback.windows import Granularity, window_start
from travelbot.streams.contract import ChatTurnEvent, FeedbackEvent, TurnTimings, TurnTokens

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a fixed event time, in the past


def rating_event(
    event_id: str,
    *,
    at: datetime = T0,
    rating: int = 1,
    turn: str = "turn-1",
    user: str = "user-1",
    comment: str | None = None,
    conversation: str = "conv-1",
) -> FeedbackEvent:
    return FeedbackEvent(
        event_id=event_id,
        conversation_id=conversation,
        turn_id=turn,
        user_id=user,
        rating=rating,  # type: ignore[arg-type]
        occurred_at=at,
        comment=comment,
    )


def turn_event(
    event_id: str,
    *,
    at: datetime = T0,
    conversation: str = "conv-1",
    first_token_ms: int | None = 800,
    total_ms: int | None = 3000,
    tokens: tuple[int, int] = (100, 40),
) -> ChatTurnEvent:
    return ChatTurnEvent(
        event_id=event_id,
        conversation_id=conversation,
        turn_id=f"turn-{event_id}",
        user_id="user-1",
        occurred_at=at,
        status="answered",
        question="Can I still get to New York on Friday?",
        answer="Yes: BA117 leaves at 08:25.",
        model="test-model",
        timings_ms=TurnTimings(context=5, first_token=first_token_ms, total=total_ms),
        tokens=TurnTokens(prompt=tokens[0], completion=tokens[1]),
    )


def contract_json(event: FeedbackEvent | ChatTurnEvent) -> dict[str, Any]:
    """The event as its topic carries it."""
    value: dict[str, Any] = msgspec.to_builtins(event)
    return value


COUNTED = ("conversations", "turns", "ratings", "helpful", "comments", "late_dropped")


def counts_at(at: datetime, granularity: Granularity = Granularity.MINUTE) -> dict[str, int]:
    """The counters of the window holding `at` (zeros where there is no row)."""
    row = (
        KpiWindow.objects.filter(granularity=granularity, starts_at=window_start(at, granularity))
        .values(*COUNTED)
        .first()
    )
    return row or dict.fromkeys(COUNTED, 0)
