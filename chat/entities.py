"""What a question names, recognised deterministically before the model is called: places
(airport and city names, codes and common aliases), dates (absolute and relative to the
traveller's today), flight numbers, cabin, party size and what kind of answer it wants.

No model is involved: the context must hold the right live data even when the model is
small. Places are the reference data's airports, cities and metropolitan areas that the
feeds serve (places.gazetteer); flight numbers are IATA designators of carriers they carry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

from inventory.selectors import Served, served_codes
from places.gazetteer import Gazetteer, Mention, Place, gazetteer_build
from places.selectors import Reference, reference
from travelbot.streams.contract import CABINS, Cabin

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
# The words for a cabin: its own name, and "first", which we sell as business.
CABIN_WORDS: dict[str, Cabin] = {cabin: cabin for cabin in CABINS} | {"first": "business"}
HOTEL_WORDS = re.compile(r"\b(hotels?|stay|room|rooms|nights?|accommodation|check[- ]?in)\b")
STATUS_WORDS = re.compile(r"\b(status|delay(ed)?|on time|gate|cancell?ed|boarding|departs?|land)")
MY_TRIP = re.compile(r"\bmy (trip|flight|booking|hotel|reservation|journey|holiday)s?\b")
PARTY = re.compile(
    r"\b(\d|two|three|four|five|six)\s+(people|passengers|adults|of us|travellers)\b"
)
NUMBER_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
NIGHTS = re.compile(r"\b(\d{1,2}|two|three|four|five|six)\s+nights?\b")


@dataclass
class Entities:
    places: list[Place] = field(default_factory=list)
    origin: Place | None = None
    destination: Place | None = None
    dates: list[date] = field(default_factory=list)
    flight_numbers: list[str] = field(default_factory=list)
    cabin: str | None = None
    passengers: int = 1
    nights: int | None = None
    wants_hotel: bool = False
    wants_status: bool = False
    about_my_trip: bool = False
    # Names of several places we serve ("Portland"): the traveller is asked which one.
    ambiguous: list[tuple[str, tuple[Place, ...]]] = field(default_factory=list)
    # Real places named that no feed serves ("Berlin"), as the question spells them.
    unserved: list[str] = field(default_factory=list)

    @property
    def travel_date(self) -> date | None:
        return self.dates[0] if self.dates else None


def gazetteer() -> Gazetteer:
    """The places and carriers the feeds serve now, named as the reference data names them."""
    return _gazetteer_for(reference(), served_codes())


@lru_cache(maxsize=4)  # rebuilt only when the feeds serve something new
def _gazetteer_for(ref: Reference, served: Served) -> Gazetteer:
    return gazetteer_build(
        reference=ref,
        airports=served.airports,
        hotel_cities=served.hotel_cities,
        carriers=served.carriers,
    )


def place_named(name: str) -> Place | None:
    """The place a name, alias or code stands for (as a tool's argument gives it)."""
    return gazetteer().place(name)


# An IATA airline designator (two letters, or a letter and a digit either way round), then the
# flight's one to four digits.
FLIGHT_NUMBER = re.compile(r"\b([A-Za-z][A-Za-z0-9]|[0-9][A-Za-z])\s?(\d{1,4})\b")


def recognise(
    text: str, *, today: date, home: str | None = None, places: Gazetteer | None = None
) -> Entities:
    """The entities of a question asked on `today` (the traveller's date) by someone whose
    home airport is `home` (the default origin of a route with one place)."""
    places = places or gazetteer()
    lowered = text.lower()
    mentions = places.mentions(text)
    found = Entities(
        places=[m.places[0] for m in mentions if len(m.places) == 1],
        dates=dates_in(lowered, today=today),
        flight_numbers=flight_numbers_in(text, carriers=places.carriers),
        cabin=_cabin(lowered),
        passengers=_party(lowered),
        nights=_nights(lowered),
        wants_hotel=bool(HOTEL_WORDS.search(lowered)),
        wants_status=bool(STATUS_WORDS.search(lowered)),
        about_my_trip=bool(MY_TRIP.search(lowered)),
        ambiguous=[(m.text, m.places) for m in mentions if len(m.places) > 1],
        unserved=places.unserved(text),
    )
    found.places = list(dict.fromkeys(found.places))
    found.origin, found.destination = _route(text, mentions, found.unserved, home, places)
    return found


ORIGIN_WORD = re.compile(r"\b(from|out of|leaving)\s+$", re.IGNORECASE)
DESTINATION_WORD = re.compile(r"\b(to|into|for|in)\s+$", re.IGNORECASE)


def _route(
    text: str,
    mentions: list[Mention],
    unserved: list[str],
    home: str | None,
    places: Gazetteer,
) -> tuple[Place | None, Place | None]:
    origin = destination = None
    rest: list[Place] = []
    for mention in mentions:
        if len(mention.places) != 1:
            continue
        place, before = mention.places[0], text[: mention.start]
        if ORIGIN_WORD.search(before) and origin is None:
            origin = place
        elif DESTINATION_WORD.search(before) and destination is None:
            destination = place
        elif place not in rest:
            rest.append(place)
    rest = [p for p in rest if p not in (origin, destination)]
    if destination is None and rest:
        destination = rest.pop(-1 if origin is None and len(rest) > 1 else 0)
    if origin is None and rest:
        origin = rest[0]
    # "from Berlin to Lisbon", Berlin not served: not the traveller's home instead.
    named_origin = any(
        re.search(rf"\b(from|out of|leaving)\s+{re.escape(u)}", text) for u in unserved
    )
    if origin is None and destination is not None and home and not named_origin:
        origin = places.codes.get(home)
    if origin == destination:
        origin = None
    return origin, destination


def flight_numbers_in(text: str, *, carriers: frozenset[str]) -> list[str]:
    """Flight numbers of carriers the feeds carry: "BA117", "ba 117" only in capitals."""
    numbers = []
    for match in FLIGHT_NUMBER.finditer(text):
        carrier = match.group(1).upper()
        if carrier in carriers and (match.group(1).isupper() or " " not in match.group(0)):
            number = f"{carrier}{int(match.group(2))}"
            if number not in numbers:
                numbers.append(number)
    return numbers


def _count(word: str) -> int:
    return int(word) if word.isdigit() else NUMBER_WORDS[word]


def _cabin(lowered: str) -> Cabin | None:
    words = re.findall(r"[a-z]+", lowered)
    return next((CABIN_WORDS[word] for word in words if word in CABIN_WORDS), None)


def _party(lowered: str) -> int:
    match = PARTY.search(lowered)
    return max(1, min(9, _count(match.group(1)))) if match else 1


def _nights(lowered: str) -> int | None:
    match = NIGHTS.search(lowered)
    return max(1, min(30, _count(match.group(1)))) if match else None


# --- dates -----------------------------------------------------------------------------------

MONTH_NAMES = "|".join(sorted(MONTHS, key=len, reverse=True))
DAY_MONTH = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?:\s+of)?\s+({MONTH_NAMES})\b\.?(?:\s+(\d{{4}}))?"
)
MONTH_DAY = re.compile(rf"\b({MONTH_NAMES})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
SLASH_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")  # day/month, as in the UK
WEEKDAY = re.compile(r"\b(this |next |on )?(" + "|".join(WEEKDAYS) + r")\b")
IN_DAYS = re.compile(r"\bin\s+(\d{1,2}|a|one|two|three)\s+(days?|weeks?)\b")


# The dates anything is sold or kept for: a date named outside them is read as the nearest
# one inside (9999-12-31 would overflow the day after it, and no inventory reaches it).
DAYS_BACK = 366
DAYS_AHEAD = 2 * 366


def date_clamp(value: date, *, today: date) -> date:
    return min(max(value, today - timedelta(days=DAYS_BACK)), today + timedelta(days=DAYS_AHEAD))


def dates_in(lowered: str, *, today: date) -> list[date]:
    """The dates a question names, in the order it names them (each clamped to the dates the
    inventory holds); none when it names none."""
    found: list[tuple[int, date]] = []

    def add(position: int, value: date | None) -> None:
        value = None if value is None else date_clamp(value, today=today)
        if value is not None and all(value != d for _, d in found):
            found.append((position, value))

    for m in ISO_DATE.finditer(lowered):
        add(m.start(), _safe(int(m.group(1)), int(m.group(2)), int(m.group(3))))
    for m in DAY_MONTH.finditer(lowered):
        add(m.start(), _upcoming(today, MONTHS[m.group(2)], int(m.group(1)), m.group(3)))
    for m in MONTH_DAY.finditer(lowered):
        add(m.start(), _upcoming(today, MONTHS[m.group(1)], int(m.group(2)), m.group(3)))
    for m in SLASH_DATE.finditer(lowered):
        add(m.start(), _upcoming(today, int(m.group(2)), int(m.group(1)), m.group(3)))
    for m in WEEKDAY.finditer(lowered):
        add(m.start(), _weekday(today, WEEKDAYS.index(m.group(2)), (m.group(1) or "").strip()))
    for m in IN_DAYS.finditer(lowered):
        count = {"a": 1, "one": 1, "two": 2, "three": 3}.get(m.group(1)) or int(m.group(1))
        add(m.start(), today + timedelta(days=count * (7 if m.group(2).startswith("week") else 1)))
    for phrase, offset in (
        ("day after tomorrow", 2),
        ("tomorrow", 1),
        ("tonight", 0),
        ("today", 0),
        ("this weekend", (5 - today.weekday()) % 7),
        ("next weekend", (5 - today.weekday()) % 7 + 7),
        ("next week", 7 - today.weekday()),
        ("next month", None),
    ):
        position = lowered.find(phrase)
        if position >= 0 and not any(p <= position < p + 20 for p, _ in found):
            if offset is None:
                add(position, _safe(today.year + today.month // 12, today.month % 12 + 1, 1))
            else:
                add(position, today + timedelta(days=offset))
            if phrase == "day after tomorrow":
                lowered = lowered.replace("tomorrow", "", 1)
    return [value for _, value in sorted(found, key=lambda item: item[0])]


def _safe(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _upcoming(today: date, month: int, day: int, year: str | None) -> date | None:
    """The date with that day and month: in the given year, else the next one from today."""
    if year:
        full = int(year) + (2000 if len(year) == 2 else 0)
        return _safe(full, month, day)
    candidate = _safe(today.year, month, day)
    if candidate is not None and candidate < today:
        candidate = _safe(today.year + 1, month, day)
    return candidate


def _weekday(today: date, weekday: int, qualifier: str) -> date:
    """ "Friday" and "this Friday" are the coming one (today if it is Friday); "next Friday"
    is the Friday of next week."""
    ahead = (weekday - today.weekday()) % 7
    if qualifier == "next":
        monday_next_week = today + timedelta(days=7 - today.weekday())
        return monday_next_week + timedelta(days=weekday)
    return today + timedelta(days=ahead)
