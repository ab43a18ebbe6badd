"""Readiness: the three servers the app depends on, whether every stream has a live runner,
and (with LLM_READINESS_CHECK) whether the chat model's endpoint answers.

Each check is bounded (about 2 s), so a dead broker gives a fast 503, not a hung probe.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection

from travelbot.selectors import streams_down
from travelbot.streams.lag import LAG, TopicGroup
from travelbot.streams.registry import registered_streams

MODEL_TIMEOUT_S = 2.0


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


def _model() -> None:
    """The model's endpoint lists its models: it is up and, for llama.cpp, done loading."""
    url = f"{settings.OPENAI_BASE_URL.rstrip('/')}/models"
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bearer {settings.OPENAI_API_KEY}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=MODEL_TIMEOUT_S) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        # The body says why (llama.cpp: "Loading model"); the status line alone does not.
        detail = exc.read(300).decode(errors="replace")
        raise ConnectionError(f"{url} answered {exc.code}: {detail}") from exc


CHECKS: dict[str, Callable[[], None]] = {
    "database": _database,
    "redis": _redis,
    "broker": _broker,
    "streams": _streams,
}


def readiness(*, with_reasons: bool) -> dict[str, dict[str, object]]:
    """Each check's result; the failure's text only for callers allowed to see it."""
    results: dict[str, dict[str, object]] = {}
    checks = {**CHECKS, "model": _model} if settings.LLM_READINESS_CHECK else CHECKS
    for name, check in checks.items():
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
