"""Health checks, each bounded (about 2 s) so a dead server gives a fast answer, never a hung
probe, and each answer reused for a few seconds so probes and scrapers cost almost nothing.

`readiness` is what a web process needs to serve (its database and Redis): a load balancer
acts on it, so it names nothing the web process can do without. The broker, the streams'
runners and (with LLM_READINESS_CHECK) the chat model's endpoint are the service's health,
shown on the stream-health page, `/api/streams/status` and `/metrics` (`service_health`).
"""

from __future__ import annotations

import threading
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


Checks = dict[str, Callable[[], None]]
Results = dict[str, dict[str, object]]
WEB_CHECKS: Checks = {"database": _database, "redis": _redis}
SERVICE_CHECKS: Checks = {"broker": _broker, "streams": _streams}


class _Cached:
    """Results of a set of checks, reused for `max_age_s` in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: dict[str, float] = {}
        self._results: dict[str, Results] = {}

    def get(self, name: str, checks: Checks, *, max_age_s: float) -> Results:
        with self._lock:
            if time.monotonic() - self._at.get(name, -1e9) >= max_age_s:
                self._results[name] = _run(checks)
                self._at[name] = time.monotonic()
            return self._results[name]

    def clear(self) -> None:
        with self._lock:
            self._at.clear()


CACHED = _Cached()


def _run(checks: Checks) -> Results:
    results: Results = {}
    for name, check in checks.items():
        started = time.monotonic()
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", with its reason
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:1000]}
        else:
            results[name] = {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}
    return results


def _shown(results: Results, *, with_reasons: bool) -> Results:
    """The failure's text only for callers allowed to see it: it can name hosts and users."""
    if with_reasons:
        return {name: dict(result) for name, result in results.items()}
    return {name: {k: v for k, v in r.items() if k != "error"} for name, r in results.items()}


def readiness(*, with_reasons: bool) -> Results:
    """Whether this web process can serve: its database and Redis answer."""
    results = CACHED.get("web", WEB_CHECKS, max_age_s=settings.READINESS_CACHE_S)
    return _shown(results, with_reasons=with_reasons)


def service_health(*, with_reasons: bool) -> Results:
    """The broker, every stream's runners and, with LLM_READINESS_CHECK, the model's
    endpoint (asked at most once per MODEL_HEALTH_CACHE_S: it may be a paid service)."""
    results = dict(CACHED.get("service", SERVICE_CHECKS, max_age_s=settings.READINESS_CACHE_S))
    if settings.LLM_READINESS_CHECK:
        model = {"model": _model}
        results |= CACHED.get("model", model, max_age_s=settings.MODEL_HEALTH_CACHE_S)
    return _shown(results, with_reasons=with_reasons)
