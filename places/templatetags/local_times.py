"""Template filters for departures and arrivals as travellers read them: on the airport's own
clock with its zone, formatted by travelbot.timefmt.

Django's `date` filter would show a moment on the server's clock; these never do.
"""

from __future__ import annotations

from datetime import datetime

from django import template

from places.selectors import airport_time
from travelbot.timefmt import arrival_text, local_day_and_clock

register = template.Library()


@register.filter
def at_airport(moment: datetime | None, code: str | None) -> datetime | None:
    """{{ flight.departure_at|at_airport:flight.origin }}: the moment on that airport's clock."""
    return airport_time(code=code, moment=moment)


@register.filter
def day_and_clock(moment: datetime | None) -> str:
    """{{ departure|day_and_clock }}: "Mon 15 Dec 06:35 CET"."""
    return "" if moment is None else local_day_and_clock(moment)


@register.filter
def arrival(moment: datetime | None, departure: datetime | None) -> str:
    """{{ arrival|arrival:departure }}: "16:40 EST", with its day when the local date differs
    from the departure's."""
    return "" if moment is None else arrival_text(moment, departure)
