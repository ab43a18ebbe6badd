"""Limits every app can put in front of what one account or address could exhaust.

Three mechanisms, each held in Redis so that every ASGI and WSGI process counts together,
and each one atomic (a Lua script per decision):

- `rates_take`: token buckets. Each key refills at `count` per `period_s` and holds at most
  `count`; one call takes a token from every bucket it names or from none, and a refusal
  says how long until all of them would have one.
- `lease_take`: at most `limit` leases at once under a key. A lease expires `ttl_s` after its
  last renewal, so the places a dead process held come back on their own.
- `admission_wait`: leases with a bounded first-come queue in front: past `queue` waiting,
  or after `wait_s` in the queue, the caller is refused as busy, never left waiting.

A refusal is `Refused` ("rate_limited" or "busy", with seconds to wait); `refused_response`,
`refused_frame` and `refused_page` are its one shape per medium. Times come from `clock`,
which tests replace.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any, Literal, TypeVar

import redis
import redis.asyncio
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse

Reason = Literal["busy", "rate_limited"]
KEY_PREFIX = "travelbot:limits:"
# How often a waiter asks whether its turn in the queue has come (with jitter).
QUEUE_POLL_S = 0.05


def _now_s() -> float:
    return time.time()


# Seconds since the epoch. Every process shares Redis, not a clock: a clock running behind
# another only refills its buckets later, never twice.
clock: Callable[[], float] = _now_s


@dataclass(frozen=True)
class Rate:
    """`count` per `period_s`, in bursts of up to `count`."""

    count: int
    period_s: float

    @property
    def per_ms(self) -> float:
        return self.count / (self.period_s * 1000)


class Refused(Exception):
    """Not now: `reason` and the whole seconds to wait before trying again."""

    def __init__(self, reason: Reason, retry_after_s: float) -> None:
        self.reason = reason
        self.retry_after = max(1, math.ceil(retry_after_s))
        super().__init__(f"{reason}; try again in {self.retry_after} s")

    def json(self) -> dict[str, Any]:
        return {"error": self.reason, "retry_after": self.retry_after}


# --- Redis ---------------------------------------------------------------------------------

_sync_clients: dict[str, redis.Redis] = {}
# One asyncio client (and pool) per event loop: a pool cannot outlive its loop.
_async_clients: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[str, redis.asyncio.Redis]
] = weakref.WeakKeyDictionary()


def _sync_client() -> redis.Redis:
    url = settings.REDIS_URL
    if url not in _sync_clients:
        _sync_clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    return _sync_clients[url]


def _async_client() -> redis.asyncio.Redis:
    url, loop = settings.REDIS_URL, asyncio.get_running_loop()
    cached = _async_clients.get(loop)
    if cached is None or cached[0] != url:
        made = redis.asyncio.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        cached = _async_clients[loop] = (url, made)
    return cached[1]


def _keys(keys: Iterable[str]) -> list[str]:
    return [KEY_PREFIX + key for key in keys]


def _now_ms() -> int:
    return int(clock() * 1000)


# --- token buckets -------------------------------------------------------------------------

# KEYS: the buckets. ARGV: now (ms), then capacity and refill per ms of each bucket.
# Returns 0 when every bucket gave a token, else the ms until all of them could.
TAKE = """
local now = tonumber(ARGV[1])
local levels, wait = {}, 0
for i, key in ipairs(KEYS) do
  local capacity, per_ms = tonumber(ARGV[2 * i]), tonumber(ARGV[2 * i + 1])
  local held = redis.call('HMGET', key, 'tokens', 'at')
  local tokens, at = tonumber(held[1]) or capacity, tonumber(held[2]) or now
  if now > at then
    tokens = math.min(capacity, tokens + (now - at) * per_ms)
    at = now
  end
  levels[i] = {tokens, at, math.ceil(capacity / per_ms)}
  -- (less a thousandth of a ms: a rate's float division must not add a whole ms)
  if tokens < 1 then wait = math.max(wait, math.ceil((1 - tokens) / per_ms - 0.001)) end
end
if wait > 0 then return wait end
for i, key in ipairs(KEYS) do
  redis.call('HSET', key, 'tokens', tostring(levels[i][1] - 1), 'at', tostring(levels[i][2]))
  redis.call('PEXPIRE', key, levels[i][3] + 1000)
end
return 0
"""


def _take_args(limits: Sequence[tuple[str, Rate]]) -> list[Any]:
    args: list[Any] = [_now_ms()]
    for _, rate in limits:
        args += [rate.count, repr(rate.per_ms)]
    return [len(limits), *_keys(key for key, _ in limits), *args]


def rates_take(limits: Sequence[tuple[str, Rate]]) -> None:
    """One token from each bucket, or Refused("rate_limited") and none taken."""
    wait_ms = int(_sync_client().eval(TAKE, *_take_args(limits)))
    if wait_ms:
        raise Refused("rate_limited", wait_ms / 1000)


async def rates_take_async(limits: Sequence[tuple[str, Rate]]) -> None:
    wait_ms = int(await _async_client().eval(TAKE, *_take_args(limits)))  # type: ignore[misc]
    if wait_ms:
        raise Refused("rate_limited", wait_ms / 1000)


# --- leases and the admission queue ---------------------------------------------------------

# KEYS: the leases (id -> expiry ms), the queue (id -> ticket), the queue's liveness (id ->
# expiry ms), the ticket counter. ARGV: now, limit, lease ttl, queue length, waiter ttl, id.
# Returns 1 admitted, 0 waiting (queued now or still), -1 refused (the queue is full).
ADMIT = """
local leases, queue, alive, tickets = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now, limit, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local queue_max, waiter_ttl, id = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', leases, '-inf', now)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', alive, '-inf', now)) do
  redis.call('ZREM', queue, gone)
  redis.call('ZREM', alive, gone)
end
local free = limit - redis.call('ZCARD', leases)
local rank = redis.call('ZRANK', queue, id)
local admit = false
if rank then
  admit = rank < free
else
  local waiting = redis.call('ZCARD', queue)
  if waiting < free then
    admit = true
  elseif waiting >= queue_max then
    return -1
  else
    redis.call('ZADD', queue, redis.call('INCR', tickets), id)
  end
end
if admit then
  redis.call('ZREM', queue, id)
  redis.call('ZREM', alive, id)
  redis.call('ZADD', leases, now + ttl, id)
  redis.call('PEXPIRE', leases, ttl + 1000)
  return 1
end
redis.call('ZADD', alive, now + waiter_ttl, id)
for _, key in ipairs({queue, alive, tickets}) do redis.call('PEXPIRE', key, waiter_ttl + 1000) end
return 0
"""
# KEYS: the leases. ARGV: now, ttl, id. Renews a lease still held.
RENEW = """
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
end
return 0
"""
# KEYS: the leases, the queue, its liveness. ARGV: id.
RELEASE = """
for _, key in ipairs(KEYS) do redis.call('ZREM', key, ARGV[1]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    """A place held under `key` until released, or until `ttl_s` after its last renewal."""

    key: str
    id: str
    ttl_s: float

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)


def _queue_keys(key: str) -> list[str]:
    return _keys([key, f"{key}:queue", f"{key}:alive", f"{key}:tickets"])


async def _admit(lease: Lease, *, limit: int, queue: int, waiter_ttl_s: float) -> int:
    args: list[Any] = [_now_ms(), limit, lease.ttl_ms, queue, int(waiter_ttl_s * 1000), lease.id]
    return int(await _async_client().eval(ADMIT, 4, *_queue_keys(lease.key), *args))  # type: ignore[misc]


async def lease_take(*, key: str, limit: int, ttl_s: float, retry_after_s: float) -> Lease:
    """One of `limit` places under `key` at once, or Refused("busy") at once."""
    lease = Lease(key=key, id=uuid.uuid4().hex, ttl_s=ttl_s)
    if await _admit(lease, limit=limit, queue=0, waiter_ttl_s=ttl_s) != 1:
        raise Refused("busy", retry_after_s)
    return lease


async def admission_wait(
    *, key: str, limit: int, queue: int, wait_s: float, ttl_s: float, retry_after_s: float
) -> Lease:
    """One of `limit` places under `key`, in turn behind at most `queue` earlier callers.
    Refused("busy") when the queue is full, or after `wait_s` in it."""
    lease = Lease(key=key, id=uuid.uuid4().hex, ttl_s=ttl_s)
    # A waiter that stops asking (its process died) leaves the queue after a few polls.
    waiter_ttl_s = max(2.0, QUEUE_POLL_S * 40)
    deadline = time.monotonic() + wait_s
    try:
        while (
            answer := await _admit(lease, limit=limit, queue=queue, waiter_ttl_s=waiter_ttl_s)
        ) == 0:
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(QUEUE_POLL_S * (0.5 + random.random()))  # noqa: S311 - jitter
    except BaseException:
        await asyncio.shield(lease_release(lease))
        raise
    if answer != 1:
        await lease_release(lease)
        raise Refused("busy", retry_after_s)
    return lease


async def lease_renew(lease: Lease) -> None:
    args: list[Any] = [_now_ms(), lease.ttl_ms, lease.id]
    await _async_client().eval(RENEW, 1, *_keys([lease.key]), *args)  # type: ignore[misc]


async def lease_release(lease: Lease) -> None:
    keys = _queue_keys(lease.key)[:3]
    await _async_client().eval(RELEASE, 3, *keys, lease.id)  # type: ignore[misc]


@contextlib.asynccontextmanager
async def leases_kept(leases: Sequence[Lease]) -> AsyncIterator[None]:
    """Renew the leases while the block runs (a third of their time to live apart), and
    release them when it ends, however it ends."""

    async def renew() -> None:
        while True:
            await asyncio.sleep(min(lease.ttl_s for lease in leases) / 3)
            for lease in leases:
                await lease_renew(lease)

    renewing = asyncio.create_task(renew()) if leases else None
    try:
        yield
    finally:
        if renewing is not None:
            renewing.cancel()
        await asyncio.shield(leases_release(leases))


async def leases_release(leases: Sequence[Lease]) -> None:
    for lease in leases:
        await lease_release(lease)


# --- who is asking ---------------------------------------------------------------------------


def _right_most(forwarded: str) -> str:
    addresses = [part.strip() for part in forwarded.split(",") if part.strip()]
    return addresses[-1] if addresses else ""


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or the right-most address in the header the trusted
    proxy sets (TRUSTED_PROXY_HEADER, e.g. HTTP_X_FORWARDED_FOR): the one it appended itself,
    which the caller cannot forge."""
    header = settings.TRUSTED_PROXY_HEADER
    forwarded = _right_most(request.META.get(header, "")) if header else ""
    return forwarded or str(request.META.get("REMOTE_ADDR") or "unknown")


def scope_address(scope: dict[str, Any]) -> str:
    """The same, for an ASGI scope (a websocket)."""
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        name = header.removeprefix("HTTP_").replace("_", "-").lower().encode()
        values = [v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == name]
        forwarded = _right_most(",".join(values))
        if forwarded:
            return forwarded
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


# --- refusals ------------------------------------------------------------------------------


def refused_response(refused: Refused) -> JsonResponse:
    """A JSON API's refusal: 429, the reason and the wait, and Retry-After."""
    response = JsonResponse(refused.json(), status=429)
    response["Retry-After"] = str(refused.retry_after)
    return response


def refused_frame(refused: Refused) -> dict[str, Any]:
    """A websocket's refusal: an `error` frame with the same fields as the JSON answer."""
    return {"type": "error", **refused.json(), "message": str(refused)}


def refused_page(request: HttpRequest, refused: Refused) -> HttpResponse:
    """A form page's refusal: 429 with a page saying how long to wait, and Retry-After."""
    response = TemplateResponse(request, "429.html", {"refused": refused}, status=429)
    response["Retry-After"] = str(refused.retry_after)
    return response.render()


View = TypeVar("View", bound=Callable[..., HttpResponseBase])
Limits = Callable[[HttpRequest], Sequence[tuple[str, Rate]]]


def posts_throttled(limits: Limits) -> Callable[[View], View]:
    """A page whose POSTs take a token from each of `limits(request)`'s buckets first (a
    refused one gets `refused_page`); GETs are free."""

    def decorate(view: View) -> View:
        @wraps(view)
        def throttled(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method == "POST":
                try:
                    rates_take(limits(request))
                except Refused as refused:
                    return refused_page(request, refused)
            return view(request, *args, **kwargs)

        return throttled  # type: ignore[return-value]

    return decorate


def per_minute(count: int) -> Rate:
    return Rate(count=count, period_s=60)


def per_hour(count: int) -> Rate:
    return Rate(count=count, period_s=3600)


def log_in_limits(request: HttpRequest) -> list[tuple[str, Rate]]:
    """A log-in attempt's buckets, the site's and /admin/'s alike: its address's, and the
    username's it tries (guessing one account's password from many addresses)."""
    username = str(request.POST.get("username", "")).strip().lower()[:150]
    return [
        (
            f"login:addr:{client_address(request)}",
            per_minute(settings.LOGINS_PER_MINUTE_PER_ADDRESS),
        ),
        (f"login:user:{username}", per_minute(settings.LOGINS_PER_MINUTE_PER_USERNAME)),
    ]
