"""Reads of the airports reference data: by code, by metropolitan area, and their zones.

The table changes only when a new release of the dataset is loaded, so each process reads it
once (about 8,000 small rows) and keeps it; loading a release clears the copy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, fields
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from places.models import Airport
from travelbot.timefmt import in_zone


@dataclass(frozen=True, slots=True)
class ReferenceAirport:
    code: str
    name: str
    city: str
    subdivision: str
    country: str
    metro: str
    metro_name: str
    latitude: float
    longitude: float
    time_zone: str


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one per loaded release
class Reference:
    airports: dict[str, ReferenceAirport]
    by_metro: dict[str, tuple[ReferenceAirport, ...]]

    def metro_of(self, code: str) -> str | None:
        """The metropolitan code a city or airport code belongs to (LHR -> LON)."""
        if code in self.by_metro:
            return code
        airport = self.airports.get(code)
        return airport.metro if airport else None


@cache
def reference() -> Reference:
    columns = [f.name for f in fields(ReferenceAirport)]
    airports = {
        values["code"]: ReferenceAirport(**values)
        for values in Airport.objects.values(*columns).iterator(chunk_size=4000)
    }
    by_metro: dict[str, list[ReferenceAirport]] = defaultdict(list)
    for airport in airports.values():
        by_metro[airport.metro].append(airport)
    return Reference(airports, {m: tuple(a) for m, a in by_metro.items()})


def reference_forget() -> None:
    reference.cache_clear()
    _zone.cache_clear()


def airport_get(*, code: str) -> ReferenceAirport | None:
    return reference().airports.get(code)


def airport_zone(*, code: str | None) -> ZoneInfo | None:
    """The IANA zone of an airport (or of a metropolitan code's first airport); None when the
    code is unknown."""
    if not code:
        return None
    ref = reference()
    airport = ref.airports.get(code) or next(iter(ref.by_metro.get(code, ())), None)
    return _zone(airport.time_zone) if airport else None


def airports_in(*, code: str) -> tuple[str, ...]:
    """The airports a code stands for: itself when it is an airport's (DXB is Dubai
    International), else a metropolitan area's (LON: LHR, LGW, LCY, STN, LTN, SEN)."""
    ref = reference()
    if code in ref.airports or code not in ref.by_metro:
        return (code,)
    return tuple(sorted(airport.code for airport in ref.by_metro[code]))


def airport_time(*, code: str | None, moment: datetime | None) -> datetime | None:
    """`moment` on the clock of the airport (or metropolitan area) `code`: what its departure
    boards show. UTC when the code is unknown, so the time is still right and says its zone."""
    return None if moment is None else in_zone(moment, airport_zone(code=code))


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
