"""Fixtures every test shares."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.utils import timezone
from pytest_django.fixtures import Settings

from devstack.servers import KafkaBroker
from harness.stack import free_port
from tests.clock import Clock
from travelbot import limits
from travelbot.health import CACHED
from travelbot.limits import KEY_PREFIX
from travelbot.streams.lag import LAG


@pytest.fixture(autouse=True)
def fresh_lag_figures() -> Iterator[None]:
    """Lag figures are cached for a couple of seconds; each test reads its own topics."""
    LAG.clear()
    CACHED.clear()
    yield
    LAG.clear()
    CACHED.clear()


@pytest.fixture(autouse=True)
def fresh_limits() -> Iterator[None]:
    """Every test starts with full buckets and no leases: the limits live in the session's
    Redis, and every test client asks from the same address."""
    limits_clear()
    yield
    limits_clear()


def limits_clear() -> None:
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    try:
        keys = list(client.scan_iter(match=f"{KEY_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class LimitsClock:
    """The limits' clock, standing still until a test moves it."""

    def __init__(self) -> None:
        self.now = 1_000_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def limits_clock(monkeypatch: pytest.MonkeyPatch) -> LimitsClock:
    clock = LimitsClock()
    monkeypatch.setattr(limits, "clock", clock)
    return clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Product code's "now" starts at the suite's fixed instant (tests.clock.START).

    Product code reads the time through `django.utils.timezone.now` (as Django itself does
    for auto_now fields and session expiry), so that one attribute is the whole clock."""
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def broker(tmp_path: Path, settings: Settings) -> Iterator[KafkaBroker]:
    """A broker only this test uses (not started yet), which the settings point at: it can
    be started late, paused or restarted empty without disturbing other tests."""
    own = KafkaBroker(data_root=tmp_path / "kafka", port=free_port())
    settings.KAFKA_BOOTSTRAP_SERVERS = [own.bootstrap]
    settings.KAFKA_TOPIC_PREFIX = f"f{uuid.uuid4().hex[:8]}."
    yield own
    if own.process is not None and own.process.poll() is None:
        os.kill(own.process.pid, signal.SIGCONT)
    own.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every transactional test restores the migrated rows (content types, role groups).

    A plain transactional test's flush re-creates the content types under new ids, and a
    later test that restores the serialized rows (the browser tests need the role groups)
    then collides with them; restoring everywhere keeps the order of tests irrelevant."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is None or not marker.kwargs.get("transaction"):
            continue
        if not marker.kwargs.get("serialized_rollback"):
            serialized = pytest.mark.django_db(
                *marker.args, **marker.kwargs, serialized_rollback=True
            )
            item.add_marker(serialized, append=False)
