"""Stream handlers of feedback.events and chat.turns: ledgers, current ratings and the
event-time KPI windows, set-based per batch (feedback.services).

Records that break the contract (a rating other than 1 or -1, a timestamp without a zone,
missing fields) never reach these handlers: the runtime dead-letters them with the decoder's
reason.

Both consult the erasures first: an event about an erased traveller (a rating they gave just
before the erasure, still on its way) is dropped, so it cannot recreate data about them.
"""

from __future__ import annotations

from typing import TypeVar

from feedback.services import ratings_ingest, turns_ingest
from profiles.privacy import users_erased
from travelbot.streams import contract
from travelbot.streams.contract import ChatTurnEvent, FeedbackEvent
from travelbot.streams.registry import BatchResult, event_stream

E = TypeVar("E", FeedbackEvent, ChatTurnEvent)


def feedback_events_apply(events: list[FeedbackEvent]) -> BatchResult:
    return ratings_ingest(events=_not_erased(events))


def chat_turns_apply(events: list[ChatTurnEvent]) -> BatchResult:
    return turns_ingest(events=_not_erased(events))


def _not_erased(events: list[E]) -> list[E]:
    erased = users_erased(user_ids={event.user_id for event in events})
    return [event for event in events if event.user_id not in erased] if erased else events


def occurred_ms(event: FeedbackEvent | ChatTurnEvent) -> int:
    return int(event.occurred_at.timestamp() * 1000)


STREAMS = [
    event_stream(topic=contract.FEEDBACK, handle=feedback_events_apply, event_time_ms=occurred_ms),
    event_stream(topic=contract.CHAT_TURNS, handle=chat_turns_apply, event_time_ms=occurred_ms),
]
