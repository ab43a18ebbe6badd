"""A moment on an airport's clock, from the reference data's IANA zones."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from places.selectors import airport_time

pytestmark = pytest.mark.django_db
DEPARTURE = datetime(2026, 7, 15, 5, 35, tzinfo=UTC)


def test_a_moment_is_put_on_the_airports_clock() -> None:
    local = airport_time(code="MAD", moment=DEPARTURE)
    assert local is not None and (local.hour, local.minute, local.tzname()) == (7, 35, "CEST")
    assert local == DEPARTURE


def test_a_metropolitan_code_has_its_airports_clock() -> None:
    local = airport_time(code="NYC", moment=DEPARTURE)
    assert local is not None and local.tzname() == "EDT"


def test_an_unknown_airport_keeps_utc() -> None:
    assert airport_time(code="ZZZ", moment=DEPARTURE) == DEPARTURE
    assert str(airport_time(code=None, moment=DEPARTURE).tzinfo) == "UTC"  # type: ignore[union-attr]
    assert airport_time(code="MAD", moment=None) is None
