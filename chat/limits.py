"""What one traveller, or one address, may ask of the chat, and how many turns run at once.

An ask takes a token from the traveller's and the address's buckets, one of the traveller's
CHAT_CONCURRENT_TURNS places (over all their tabs and processes), then waits its turn in
front of the model: CHAT_MODEL_CONCURRENCY turns run at once, CHAT_MODEL_QUEUE wait at most
CHAT_MODEL_QUEUE_WAIT_S, and anyone beyond is told "busy" with a time to come back.
"""

from __future__ import annotations

from django.conf import settings

from travelbot.limits import (
    Lease,
    Rate,
    admission_wait,
    lease_take,
    leases_release,
    per_minute,
    rates_take,
    rates_take_async,
)

MODEL_KEY = "chat:model"


def _ask_rates(*, user_id: int, address: str) -> list[tuple[str, Rate]]:
    return [
        (f"chat:asks:user:{user_id}", per_minute(settings.CHAT_ASKS_PER_MINUTE)),
        (f"chat:asks:addr:{address}", per_minute(settings.CHAT_ASKS_PER_MINUTE_PER_ADDRESS)),
    ]


async def ask_admit(*, user_id: int, address: str) -> list[Lease]:
    """The leases a turn runs under, to keep while it runs (`leases_kept`); Refused when
    the traveller or address asks too often, already has their turns running, or the model's
    queue is full."""
    await rates_take_async(_ask_rates(user_id=user_id, address=address))
    busy_s, ttl_s = settings.CHAT_BUSY_RETRY_AFTER_S, settings.CHAT_LEASE_TTL_S
    own = await lease_take(
        key=f"chat:turns:{user_id}",
        limit=settings.CHAT_CONCURRENT_TURNS,
        ttl_s=ttl_s,
        retry_after_s=busy_s,
    )
    try:
        model = await admission_wait(
            key=MODEL_KEY,
            limit=settings.CHAT_MODEL_CONCURRENCY,
            queue=settings.CHAT_MODEL_QUEUE,
            wait_s=settings.CHAT_MODEL_QUEUE_WAIT_S,
            ttl_s=ttl_s,
            retry_after_s=busy_s,
        )
    except BaseException:
        await leases_release([own])
        raise
    return [own, model]


def rating_rate_take(*, user_id: int, address: str) -> None:
    rates_take(
        [
            (f"chat:ratings:user:{user_id}", per_minute(settings.CHAT_RATINGS_PER_MINUTE)),
            (
                f"chat:ratings:addr:{address}",
                per_minute(settings.CHAT_RATINGS_PER_MINUTE_PER_ADDRESS),
            ),
        ]
    )
