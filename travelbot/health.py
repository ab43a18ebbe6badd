"""Readiness: the three servers the app depends on, and whether every stream has a live runner.

Each check is bounded (about 2 s), so a dead broker gives a fast 503, not a hung probe.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection

from travelbot.selectors import streams_down
from travelbot.streams.lag import LAG, TopicGroup
from travelbot.streams.registry import registered_streams


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _redis() -> None:
    timeout = settings.KAFKA_ADMIN_TIMEOUT_S
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
    finally:
        client.close()


def _broker() -> None:
    """The cached, bounded read the status pages use: an answer within the timeout, or why not."""
    snapshot = LAG.read(
        [TopicGroup(topic=s.topic, group=s.group) for s in registered_streams().values()],
        servers=list(settings.KAFKA_BOOTSTRAP_SERVERS),
        max_age_s=settings.STREAM_LAG_CACHE_S,
        timeout_s=settings.KAFKA_ADMIN_TIMEOUT_S,
    )
    if snapshot.error:
        raise ConnectionError(snapshot.error)


def _streams() -> None:
    down = streams_down()
    if down:
        raise RuntimeError("; ".join(f"{name} {reason}" for name, reason in sorted(down.items())))


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "redis": _redis,
    "broker": _broker,
    "streams": _streams,
}


def readiness(*, with_reasons: bool) -> dict[str, dict[str, object]]:
    """Each check's result; the failure's text only for callers allowed to see it."""
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            results[name] = {"ok": False}
            if with_reasons:
                results[name]["error"] = f"{type(exc).__name__}: {exc}"[:1000]
        else:
            results[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    return results
