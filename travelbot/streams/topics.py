"""Every topic of the wire contract (../shared/contracts/streams.md), with its dead-letter topic."""

from __future__ import annotations

CDC_TOPICS: tuple[str, ...] = (
    "inventory.flights",
    "inventory.fares",
    "inventory.hotels",
    "inventory.hotel_rates",
    "crm.customers",
    "loyalty.members",
    "bookings.reservations",
    "knowledge.documents",
)
EVENT_TOPICS: tuple[str, ...] = ("feedback.events", "chat.turns", "support.events")
CONTRACT_TOPICS: tuple[str, ...] = CDC_TOPICS + EVENT_TOPICS


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def all_topics() -> list[str]:
    """Contract topics and their dead-letter topics, in a stable order."""
    return [name for topic in CONTRACT_TOPICS for name in (topic, dlq_topic(topic))]
