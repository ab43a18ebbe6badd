"""Times as travellers read them: on the airport's clock, with its zone, daylight saving
included; and ISO 8601 for the APIs."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from travelbot.timefmt import (
    arrival_text,
    clock_times,
    in_zone,
    iso_local,
    iso_z,
    local_clock,
    local_day_and_clock,
    zone_abbreviation,
    zone_named,
)

MADRID = ZoneInfo("Europe/Madrid")


def test_a_madrid_departure_at_0535z_is_0635_in_december_and_0735_in_july() -> None:
    december = in_zone(datetime(2026, 12, 15, 5, 35, tzinfo=UTC), MADRID)
    july = in_zone(datetime(2026, 7, 15, 5, 35, tzinfo=UTC), MADRID)
    assert local_clock(december) == "06:35 CET"
    assert local_clock(july) == "07:35 CEST"


def test_a_time_shows_its_day() -> None:
    moment = in_zone(datetime(2026, 12, 15, 5, 35, tzinfo=UTC), MADRID)
    assert local_day_and_clock(moment) == "Tue 15 Dec 06:35 CET"


@pytest.mark.parametrize(
    ("zone", "shown"),
    [
        ("America/New_York", "11:35 EST"),
        ("Asia/Dubai", "20:35 UTC+4"),
        ("Asia/Kolkata", "22:05 IST"),
        ("Asia/Kathmandu", "22:20 UTC+5:45"),
        ("America/Sao_Paulo", "13:35 UTC-3"),
        ("UTC", "16:35 UTC"),
    ],
)
def test_zones_without_a_letter_abbreviation_are_shown_by_their_offset(
    zone: str, shown: str
) -> None:
    assert local_clock(in_zone(datetime(2026, 12, 15, 16, 35, tzinfo=UTC), ZoneInfo(zone))) == shown


def test_an_unknown_zone_shows_utc_and_says_so() -> None:
    moment = in_zone(datetime(2026, 12, 15, 16, 35, tzinfo=UTC), None)
    assert local_clock(moment) == "16:35 UTC" and zone_abbreviation(moment) == "UTC"


def test_an_arrival_on_the_day_it_left_shows_the_time_alone() -> None:
    departs = in_zone(datetime(2026, 12, 15, 8, 25, tzinfo=UTC), ZoneInfo("Europe/London"))
    arrives = in_zone(datetime(2026, 12, 15, 16, 40, tzinfo=UTC), ZoneInfo("America/New_York"))
    assert arrival_text(arrives, departs) == "11:40 EST"


def test_an_overnight_arrival_shows_the_next_day() -> None:
    departs = in_zone(datetime(2026, 12, 15, 21, 0, tzinfo=UTC), ZoneInfo("Europe/London"))
    arrives = in_zone(datetime(2026, 12, 16, 8, 10, tzinfo=UTC), ZoneInfo("Asia/Tokyo"))
    assert arrival_text(arrives, departs) == "Wed 16 Dec 17:10 JST"


def test_an_arrival_is_compared_on_local_dates_not_utc_ones() -> None:
    # Both instants are on 15 December in UTC, but the landing is on the 16th in Tokyo.
    departs = in_zone(datetime(2026, 12, 15, 1, 0, tzinfo=UTC), ZoneInfo("Europe/London"))
    arrives = in_zone(datetime(2026, 12, 15, 23, 0, tzinfo=UTC), ZoneInfo("Asia/Tokyo"))
    assert arrival_text(arrives, departs) == "Wed 16 Dec 08:00 JST"


def test_the_times_an_answer_may_quote_are_local_and_utc() -> None:
    departs = in_zone(datetime(2026, 7, 15, 5, 35, tzinfo=UTC), MADRID)
    london = in_zone(datetime(2026, 7, 15, 7, 0, tzinfo=UTC), ZoneInfo("Europe/London"))
    assert clock_times(departs, london, None) == ["07:35", "05:35", "08:00", "07:00"]


def test_apis_write_utc_with_z_and_local_times_with_their_offset() -> None:
    moment = datetime(2026, 7, 15, 5, 35, tzinfo=UTC)
    assert iso_z(moment) == "2026-07-15T05:35:00Z"
    assert iso_local(in_zone(moment, MADRID)) == "2026-07-15T07:35:00+02:00"
    assert iso_local(None) is None


def test_a_zone_is_named_by_its_iana_name_only() -> None:
    assert zone_named("Australia/Sydney") == ZoneInfo("Australia/Sydney")
    for name in ("Mars/Olympus_Mons", "localtime", "../etc/passwd", "", "europe/madrid"):
        assert zone_named(name) is None
