"""Every topic of the wire contract (../shared/contracts/streams.md), with its dead-letter topic."""

from __future__ import annotations

from travelbot.streams.contract import TOPICS


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def all_topics() -> list[str]:
    """Contract topics (CDC, then events, as the contract lists them) and their dead-letter
    topics, in a stable order."""
    return [name for topic in TOPICS for name in (topic, dlq_topic(topic))]
