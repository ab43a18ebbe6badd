"""Both feedback streams on the real broker: windows kept, malformed records dead-lettered."""

from __future__ import annotations

import json

import pytest

from feedback.streams import STREAMS
from harness.streaming import (
    RunnerThread,
    committed_offsets,
    isolated,
    publish,
    publish_raw,
    read_topic,
    wait_until,
)
from tests.feedback.events import T0, contract_json, counts_at, rating_event, turn_event
from travelbot.models import DeadLetter

pytestmark = pytest.mark.django_db(transaction=True)
FEEDBACK = next(spec for spec in STREAMS if spec.name == "feedback.events")
TURNS = next(spec for spec in STREAMS if spec.name == "chat.turns")
KEY = b'{"conversation_id":"conv-1"}'


def rating_value(**changes: object) -> bytes:
    return json.dumps({**contract_json(rating_event("bad")), **changes}).encode()


MALFORMED_RATINGS = {
    "rating 0": (KEY, rating_value(rating=0), "Invalid enum value 0 - at `$.rating`"),
    "rating as text": (KEY, rating_value(rating="1"), "Expected `int`, got `str`"),
    "no zone": (KEY, rating_value(occurred_at="2026-11-02T09:00:00"), "timezone component"),
    "no key": (None, rating_value(), "missing key"),
    "not JSON": (KEY, b"{rating: 1", "not UTF-8 JSON"),
}


def test_malformed_ratings_are_dead_lettered_with_their_reason_and_the_rest_counted() -> None:
    spec = isolated(FEEDBACK)
    publish_raw(spec.topic, [(key, value) for key, value, _ in MALFORMED_RATINGS.values()])
    good = [rating_event("r1", user="a"), rating_event("r2", user="b", rating=-1)]
    publish(spec.topic, [({"conversation_id": "conv-1"}, contract_json(e)) for e in good])
    with RunnerThread(spec):
        wait_until(lambda: counts_at(T0)["ratings"] == 2, what="the good ratings")
        wait_until(lambda: DeadLetter.objects.count() == len(MALFORMED_RATINGS), what="letters")
    reasons = sorted(letter.reason for letter in DeadLetter.objects.all())
    for _, _, reason in MALFORMED_RATINGS.values():
        assert any(reason in stored for stored in reasons), (reason, reasons)
    assert len(read_topic(spec.dlq_topic, len(MALFORMED_RATINGS))) == len(MALFORMED_RATINGS)


def test_turns_delivered_twice_through_the_broker_count_once() -> None:
    spec = isolated(TURNS)
    turns = [turn_event(f"t{n}", conversation=f"conv-{n % 2}") for n in range(5)]
    messages = [({"conversation_id": t.conversation_id}, contract_json(t)) for t in turns]
    publish(spec.topic, messages + messages[:2])
    with RunnerThread(spec):
        wait_until(lambda: sum(committed_offsets(spec).values()) == 7, what="all seven records")
    assert (counts_at(T0)["turns"], counts_at(T0)["conversations"]) == (5, 2)
