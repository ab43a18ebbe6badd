"""How times leave the app.

APIs and streams write ISO 8601 in UTC with a Z, as the stream contract does. Travellers read
a departure or an arrival in the local time of its airport with the zone's abbreviation
("06:35 CET"), as airlines print them; the caller puts the moment in that zone (the IANA
database via `zoneinfo`, so daylight-saving changes come with it) and these functions only
format it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

# Names the zone database also holds that are not places: the server's own zone, and a
# legacy rules file. A traveller's zone is never either.
NOT_PLACES = frozenset({"localtime", "posixrules"})


def iso_z(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def iso_local(moment: datetime | None) -> str | None:
    """ISO 8601 with the moment's own offset ("2026-12-15T06:35:00+01:00")."""
    return None if moment is None else moment.isoformat()


@cache
def _zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - NOT_PLACES


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA zone called `name` ("Europe/Madrid"), or None when there is no such zone."""
    return ZoneInfo(name) if name in _zone_names() else None


def in_zone(moment: datetime, zone: tzinfo | None) -> datetime:
    """`moment` on the clock of `zone`; UTC when the zone is unknown."""
    return moment.astimezone(zone or UTC)


def zone_abbreviation(moment: datetime) -> str:
    """The abbreviation of the moment's zone at that moment ("CET", "CEST", "EST"); zones
    without a letter one ("+04" for Dubai) are shown by their offset ("UTC+4", "UTC+5:45")."""
    name = moment.tzname() or ""
    if name and name[0] not in "+-":
        return name
    return _offset_text(moment.utcoffset() or timedelta(0))


def _offset_text(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}:{rest:02d}" if rest else f"UTC{sign}{hours}"


def local_clock(moment: datetime) -> str:
    """The time of day on the moment's own clock, with its zone: "06:35 CET"."""
    return f"{moment:%H:%M} {zone_abbreviation(moment)}"


def local_day_and_clock(moment: datetime) -> str:
    """The day and time on the moment's own clock: "Mon 15 Dec 06:35 CET"."""
    return f"{moment:%a %d %b} {local_clock(moment)}"


def arrival_text(arrival: datetime, departure: datetime | None) -> str:
    """An arrival after its departure, both on their own airports' clocks: the time alone when
    it lands on the day it left (local dates), else with its day ("Tue 16 Dec 07:10 JST")."""
    if departure is not None and arrival.date() == departure.date():
        return local_clock(arrival)
    return local_day_and_clock(arrival)


def clock_times(*moments: datetime | None) -> list[str]:
    """Each moment's HH:MM on its own clock and in UTC, once each: the times an answer may
    quote (a traveller may be told either)."""
    present = [moment for moment in moments if moment is not None]
    times = [f"{m:%H:%M}" for moment in present for m in (moment, in_zone(moment, UTC))]
    return list(dict.fromkeys(times))
