"""Lag figures for status pages: a stuck broker is waited for once, within the timeout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from travelbot.streams.lag import LagReader, TopicGroup

WANTED = [TopicGroup(topic="inventory.flights", group="travelbot")]


@pytest.fixture
def stuck_reader() -> Iterator[LagReader]:
    """A reader whose broker never answers until the test ends."""
    released = threading.Event()
    reader = LagReader()

    def never(wanted: Any, servers: Any) -> Any:
        released.wait(30)
        raise ConnectionError("released")

    reader._read = never  # type: ignore[method-assign]
    yield reader
    released.set()


def read(reader: LagReader) -> tuple[float, str]:
    started = time.monotonic()
    snapshot = reader.read(WANTED, servers=["127.0.0.1:1"], max_age_s=0, timeout_s=0.5)
    return time.monotonic() - started, snapshot.error


def test_a_stuck_broker_is_waited_for_at_most_the_timeout(stuck_reader: LagReader) -> None:
    waited, error = read(stuck_reader)
    assert 0.4 < waited < 5
    assert error == "the broker did not answer within 0.5 s"


def test_a_second_read_does_not_wait_again_on_an_overdue_refresh(stuck_reader: LagReader) -> None:
    read(stuck_reader)
    waited, error = read(stuck_reader)
    assert waited < 0.4  # no second full wait, however busy the machine
    assert error == "the broker did not answer within 0.5 s"
