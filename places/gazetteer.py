"""Recognising places in a traveller's words: the reference data's names for airports, cities
and metropolitan areas, narrowed to what the feeds serve.

A name can stand for a place we serve (London: LHR, LGW, LCY, STN, LTN, SEN, whichever the
feeds fly), for several (Portland, Oregon and Portland, Maine, when both are served: the
traveller is asked which), or for a real place we do not serve (Berlin, when no feed flies
there: the traveller is told so rather than shown another city's flights).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from places.aliases import ALIASES
from places.selectors import Reference, ReferenceAirport

# Words of an airport's name that say what it is, not which one it is.
GENERIC_WORDS = frozenset(
    {
        "airport",
        "airports",
        "international",
        "intl",
        "regional",
        "municipal",
        "airfield",
        "aerodrome",
        "airpark",
        "jetport",
        "field",
        "air",
        "base",
        "county",
        "national",
        "memorial",
        "metropolitan",
        "city",
        "central",
        "domestic",
        "terminal",
        "de",
        "del",
        "do",
        "da",
        "di",
        "du",
        "la",
        "le",
        "the",
        "of",
        "and",
        "y",
        "e",
    }
)
# A name shorter than this, once generic words are gone, is too easily a word ("Bay").
MIN_SHORT_NAME = 4
PREPOSITIONS = r"from|to|into|in|for|at|near|via|between|and|or|out of"
# A place named with capitals after a preposition: "from Berlin", "to San José del Cabo".
CAPITALISED_AFTER_PREPOSITION = re.compile(
    rf"\b(?:{PREPOSITIONS})\s+((?:[A-Z][\w'’.-]*)(?:\s+(?:[A-Z][\w'’.-]*|de|del|la|am|on|upon))"
    r"{0,3})"
)
CODE = re.compile(r"\b([A-Z]{3})\b")
# Capitalised words after a preposition that are not places, whatever a dataset calls a town.
NOT_PLACES = frozenset(
    {
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "today",
        "tomorrow",
        "christmas",
        "easter",
        "economy",
        "premium",
        "business",
        "first",
        "class",
        "i",
        "we",
        "my",
        "our",
        "the",
        "a",
        "an",
    }
)


@dataclass(frozen=True)
class Place:
    """A place we serve: its code (metropolitan or airport), the airports the feeds fly from
    or to there, and the hotel city code where hotels are sold."""

    code: str
    name: str
    airports: tuple[str, ...]
    hotel_city: str | None
    region: str = ""  # "Oregon, US": what tells two places of one name apart

    @property
    def label(self) -> str:
        return f"{self.name} ({self.region})" if self.region else self.name


@dataclass(frozen=True)
class Mention:
    """Where a question names a place we serve: one place, or several of the same name."""

    start: int
    end: int
    text: str
    places: tuple[Place, ...]


@dataclass(frozen=True)
class Gazetteer:
    names: dict[str, tuple[Place, ...]]  # lower-case name or alias
    codes: dict[str, Place]  # metropolitan, airport and hotel city codes
    pattern: re.Pattern[str] | None
    carriers: frozenset[str]
    reference: Reference

    def place(self, name: str) -> Place | None:
        """The one place a name, alias or code stands for (as a tool's argument gives it)."""
        key = name.strip()
        named = self.names.get(key.lower(), ())
        if len(named) == 1:
            return named[0]
        return self.codes.get(key.upper()) if len(key) == 3 else None

    def mentions(self, text: str) -> list[Mention]:
        """The places a question names, in order: names and aliases in any case, codes only in
        capitals (MAD, MAN and SEA are also words)."""
        lowered = fold(text)
        found: list[Mention] = []
        taken: set[int] = set()
        if self.pattern is not None:
            for m in self.pattern.finditer(lowered):
                found.append(
                    Mention(m.start(), m.end(), text[m.start() : m.end()], self.names[m.group(1)])
                )
                taken.update(range(m.start(), m.end()))
        for m in CODE.finditer(text):
            place = self.codes.get(m.group(1))
            if place is not None and m.start() not in taken:
                found.append(Mention(m.start(), m.end(), m.group(1), (place,)))
        return sorted(found, key=lambda mention: mention.start)

    def unserved(self, text: str) -> list[str]:
        """Real places a question names with capitals (or by IATA code) that no feed serves,
        as the question spells them."""
        served = [(m.start, m.end) for m in self.mentions(text)]
        index = reference_names(self.reference)
        unknown: list[str] = []
        for m in CAPITALISED_AFTER_PREPOSITION.finditer(text):
            start = m.start(1)
            words = m.group(1).split()
            for size in range(len(words), 0, -1):
                name = " ".join(words[:size]).rstrip(".,;:!?'’")
                key = fold(name)
                if any(s < start + len(name) and start < e for s, e in served):
                    break
                if key in NOT_PLACES:
                    break
                if key in index or (size == 1 and name in self.reference.airports):
                    if name not in unknown:
                        unknown.append(name)
                    break
        return unknown


def gazetteer_build(
    *,
    reference: Reference,
    airports: Iterable[str],
    hotel_cities: Iterable[str],
    carriers: Iterable[str],
) -> Gazetteer:
    """The names of the places the feeds serve: `airports` flown from or to, `hotel_cities`
    with hotels, by the reference data's names, codes, metropolitan areas and aliases."""
    cities = frozenset(hotel_cities)
    names: dict[str, dict[str, Place]] = defaultdict(dict)
    codes: dict[str, Place] = {}
    members: dict[str, list[ReferenceAirport]] = defaultdict(list)
    for code in sorted(set(airports)):
        airport = reference.airports.get(code)
        if airport is None:  # a code the dataset does not know: recognised by code alone
            codes[code] = Place(code, code, (code,), code if code in cities else None)
        else:
            members[airport.metro].append(airport)
    for metro, served in members.items():
        _add_metro(names, codes, metro, served, cities)
    for city in sorted(cities - codes.keys()):
        _add_hotel_city(names, codes, reference, city)
    for alias, code in ALIASES.items():
        if code in codes:
            names[fold(alias)][codes[code].code] = codes[code]
    frozen = {name: tuple(places.values()) for name, places in names.items()}
    ordered = sorted(frozen, key=len, reverse=True)  # "new york city" before "new york"
    pattern = (
        re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in ordered) + r")(?![\w])")
        if ordered
        else None
    )
    return Gazetteer(frozen, codes, pattern, frozenset(carriers), reference)


def _add_metro(
    names: dict[str, dict[str, Place]],
    codes: dict[str, Place],
    metro: str,
    served: list[ReferenceAirport],
    cities: frozenset[str],
) -> None:
    first = served[0]
    hotel_city = (
        metro if metro in cities else next((a.code for a in served if a.code in cities), None)
    )
    region = ", ".join(part for part in (first.subdivision, first.country) if part)
    area = Place(metro, first.metro_name, tuple(a.code for a in served), hotel_city, region)
    codes[metro] = area
    metro_names = city_names(first.metro_name)
    for name in metro_names:
        names[name][metro] = area
    for airport in served:
        one = area
        if len(served) > 1:
            one = Place(airport.code, _airport_label(airport), (airport.code,), hotel_city, region)
        codes[airport.code] = one
        for name in airport_names(airport) - metro_names:
            names[name].setdefault(one.code, one)


def _add_hotel_city(
    names: dict[str, dict[str, Place]], codes: dict[str, Place], reference: Reference, city: str
) -> None:
    """A city with hotels but no flight the feeds carry: a place for stays only."""
    airports = reference.by_metro.get(city) or (
        (reference.airports[city],) if city in reference.airports else ()
    )
    if not airports:
        codes[city] = Place(city, city, (), city)
        return
    first = airports[0]
    region = ", ".join(part for part in (first.subdivision, first.country) if part)
    place = Place(city, first.metro_name, (), city, region)
    codes[city] = place
    for name in city_names(first.metro_name):
        names[name][city] = place


def _airport_label(airport: ReferenceAirport) -> str:
    short = next(iter(airport_short_names(airport)), "")
    return (
        f"{airport.metro_name} {short}".strip() if short else f"{airport.metro_name} {airport.code}"
    )


def airport_short_names(airport: ReferenceAirport) -> list[str]:
    """What an airport is called without its city and the words every airport has:
    "London Heathrow Airport" -> "Heathrow", "John F Kennedy International" -> "John F Kennedy"."""
    city_words = set(airport.city.lower().split()) | set(airport.metro_name.lower().split())
    words = re.findall(r"[\w'’.]+", airport.name)
    kept = [w for w in words if w.lower() not in GENERIC_WORDS and w.lower() not in city_words]
    short = " ".join(kept)
    return [short] if len(short) >= MIN_SHORT_NAME and not short.isdigit() else []


@cache
def reference_names(reference: Reference) -> frozenset[str]:
    """Every lower-case city, metropolitan area and airport name of the reference data."""
    names: set[str] = set()
    for airport in reference.airports.values():
        names.update(airport_names(airport))
    names.update(fold(alias) for alias in ALIASES)
    names.discard("")
    return frozenset(names)


def fold(text: str) -> str:
    """Lower case without accents, one character for one ("Zürich" -> "zurich"), so a match
    in the folded text is at the same place in the original."""
    return "".join(_fold_char(ch) for ch in text.lower())


def _fold_char(ch: str) -> str:
    if ch.isascii():
        return ch
    base = unicodedata.normalize("NFKD", ch)[0]
    return base if base.isalpha() else ch


# Where a city's official name says more than travellers do: "Frankfurt am Main",
# "Arnavutköy, Istanbul", "Dallas-Fort Worth", "Venezia / Tessera".
CITY_PARTS = re.compile(r"\s*(?:,|/|\(|\)|\s-\s|-(?=[A-Z])|\s+(?:am|an der|upon|on)\s+)\s*")


def city_names(city: str) -> set[str]:
    """A city's folded name and its parts: "Frankfurt am Main" is also "Frankfurt"."""
    if not city:
        return set()
    parts = [p for p in CITY_PARTS.split(city) if len(p) >= MIN_SHORT_NAME - 1]
    return {fold(city), *(fold(p) for p in parts[:1])} | {fold(p) for p in parts if "-" in city}


def airport_names(airport: ReferenceAirport) -> set[str]:
    """Every folded name an airport goes by: its city's, its metropolitan area's, its own
    without the generic words, and the city its name starts with ("Montréal-Pierre Elliott
    Trudeau", "Stockholm-Arlanda")."""
    names = city_names(airport.city) | city_names(airport.metro_name)
    names |= {fold(short) for short in airport_short_names(airport)}
    head = re.split(r"\s*[-/]\s*", airport.name, maxsplit=1)[0]
    if head != airport.name and " " not in head and len(head) >= MIN_SHORT_NAME:
        names.add(fold(head))
    return names
