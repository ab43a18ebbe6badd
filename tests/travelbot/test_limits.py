"""The limits' mechanisms against the real Redis: token buckets, leases, the admission queue."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from django.test import RequestFactory
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.conftest import LimitsClock
from travelbot.limits import (
    Rate,
    Refused,
    admission_wait,
    client_address,
    lease_release,
    lease_take,
    rates_take,
    refused_response,
)

TWO_A_MINUTE = Rate(count=2, period_s=60)


def refusal(call: object) -> Refused:
    with pytest.raises(Refused) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_a_bucket_refuses_past_its_count_and_says_when_a_token_comes_back(
    limits_clock: LimitsClock,
) -> None:
    rates_take([("t:a", TWO_A_MINUTE)])
    rates_take([("t:a", TWO_A_MINUTE)])
    refused = refusal(lambda: rates_take([("t:a", TWO_A_MINUTE)]))
    assert (refused.reason, refused.retry_after) == ("rate_limited", 30)
    limits_clock.advance(30)
    rates_take([("t:a", TWO_A_MINUTE)])


def test_a_refusal_takes_no_token_from_the_other_buckets(limits_clock: LimitsClock) -> None:
    rates_take([("t:full", Rate(count=1, period_s=60))])
    refusal(lambda: rates_take([("t:other", TWO_A_MINUTE), ("t:full", Rate(1, 60))]))
    rates_take([("t:other", TWO_A_MINUTE)])
    rates_take([("t:other", TWO_A_MINUTE)])  # both tokens were still there


def test_a_refusal_is_a_429_with_retry_after() -> None:
    response = refused_response(Refused("busy", 4.2))
    assert response.status_code == 429 and response["Retry-After"] == "5"
    assert response.content == b'{"error": "busy", "retry_after": 5}'


def test_leases_are_limited_and_expire_when_their_holder_stops_renewing(
    limits_clock: LimitsClock,
) -> None:
    async def scenario() -> None:
        first = await lease_take(key="t:l", limit=2, ttl_s=30, retry_after_s=7)
        await lease_take(key="t:l", limit=2, ttl_s=30, retry_after_s=7)
        with pytest.raises(Refused) as caught:
            await lease_take(key="t:l", limit=2, ttl_s=30, retry_after_s=7)
        assert (caught.value.reason, caught.value.retry_after) == ("busy", 7)
        await lease_release(first)
        await lease_take(key="t:l", limit=2, ttl_s=30, retry_after_s=7)
        limits_clock.advance(31)  # as if their process had died
        await lease_take(key="t:l", limit=2, ttl_s=30, retry_after_s=7)
        await lease_take(key="t:l", limit=2, ttl_s=30, retry_after_s=7)

    async_to_sync(scenario)()


def test_the_admission_queue_admits_in_turn_and_refuses_past_its_length(
    limits_clock: LimitsClock,
) -> None:
    def wait(seconds: float) -> asyncio.Future[object]:
        return asyncio.ensure_future(
            admission_wait(key="t:q", limit=1, queue=1, wait_s=seconds, ttl_s=30, retry_after_s=3)
        )

    async def scenario() -> None:
        running = await wait(60)
        queued = wait(60)
        await asyncio.sleep(0.3)  # it has joined the queue
        with pytest.raises(Refused) as caught:
            await wait(60)
        assert caught.value.reason == "busy"
        assert not queued.done()
        await lease_release(running)  # type: ignore[arg-type]
        await asyncio.wait_for(queued, timeout=30)

    async_to_sync(scenario)()


def test_a_wait_in_the_queue_ends_busy_after_its_time(limits_clock: LimitsClock) -> None:
    async def scenario() -> None:
        await admission_wait(key="t:w", limit=1, queue=5, wait_s=1, ttl_s=30, retry_after_s=3)
        with pytest.raises(Refused):
            await admission_wait(key="t:w", limit=1, queue=5, wait_s=0.2, ttl_s=30, retry_after_s=3)

    async_to_sync(scenario)()


def test_the_address_is_remote_addr_unless_a_trusted_proxy_header_is_named(
    settings: SettingsWrapper,
) -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    assert client_address(request) == "10.0.0.2"
    settings.TRUSTED_PROXY_HEADER = "HTTP_X_FORWARDED_FOR"
    assert client_address(request) == "203.0.113.9"  # the one the proxy appended
