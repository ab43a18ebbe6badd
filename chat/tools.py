"""Function-calling tools offered to models that use them well (CHAT_TOOLS), beside the
context every turn gets.

The context never depends on them: a small model that ignores tools still has every fact
the question needs. A model that calls one gets the same kind of facts, each with its record
version and `as_of`, and they join the turn's cards, sources, provenance and grounding check.
The arguments come from the model, so they are untrusted: checked, bounded, and never able
to name a traveller (`my_bookings` is always the asking traveller's).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from msgspec import Meta, Struct

from chat.context import Fact, TurnContext, flight_facts, hotel_facts, trip_fact
from chat.entities import Entities, date_clamp, flight_numbers_in, gazetteer, place_named
from knowledge.selectors import SearchResult, chunks_search
from places.gazetteer import Place
from travelbot.streams.contract import Cabin

MAX_ARGUMENT_CHARS = 200
MAX_NIGHTS = 30
POLICY_RESULTS = 4

# A short text with something besides spaces in it; the runners strip it.
Text = Annotated[str, Meta(min_length=1, max_length=MAX_ARGUMENT_CHARS, pattern=r"\S")]
IsoDate = Annotated[
    str,
    Meta(min_length=1, max_length=MAX_ARGUMENT_CHARS, pattern=r"\S", description="YYYY-MM-DD"),
]
Nights = Annotated[int, Meta(ge=1, le=MAX_NIGHTS)]


# Each tool's arguments: the struct's docstring is the tool's description, its fields are the
# JSON Schema the model is offered and the checks its arguments must pass.


class SearchFlights(Struct):
    """Live flights between two places (city, airport name or code) on a date, with the
    cheapest fare per cabin."""

    origin: Text
    destination: Text
    date: IsoDate | None = None
    cabin: Cabin | None = None


class FlightStatus(Struct):
    """Live status, gate, times and seats of a flight by its number (e.g. BA117)."""

    flight_number: Text
    date: IsoDate | None = None


class SearchHotels(Struct):
    """Hotels with rooms free in a city for a stay, with totals and nightly rates."""

    city: Text
    check_in: IsoDate
    nights: Nights = 2


class MyBookings(Struct):
    """The traveller's own upcoming bookings with live flight status."""


class SearchPolicies(Struct):
    """The agency's policy and help text on a topic, in force on a date."""

    query: Text
    date: IsoDate | None = None


class ToolArgumentError(ValueError):
    pass


@dataclass
class ToolResult:
    facts: list[Fact] = field(default_factory=list)
    chunks: list[SearchResult] = field(default_factory=list)
    error: str = ""


Arguments = TypeVar("Arguments", bound=Struct)


@dataclass(frozen=True)
class Tool(Generic[Arguments]):
    arguments: type[Arguments]
    run: Callable[[Arguments, TurnContext], ToolResult]

    def function(self, name: str) -> dict[str, Any]:
        """The tool as the OpenAI tools API offers it: name, description and parameters."""
        _, components = msgspec.json.schema_components([self.arguments])
        parameters = dict(components[self.arguments.__name__])
        description = " ".join(parameters.pop("description").split())
        del parameters["title"]
        return {
            "type": "function",
            "function": {"name": name, "description": description, "parameters": parameters},
        }


def tool_run(*, name: str, arguments: str, context: TurnContext) -> ToolResult:
    """Run one tool call for the turn's traveller; bad arguments give an error result."""
    try:
        tool = _TOOLS.get(name)
        if tool is None:
            raise ToolArgumentError(f"unknown tool {name!r}")
        # json first: a malformed call is reported in json's words, as it always was.
        args = msgspec.convert(json.loads(arguments or "{}"), tool.arguments)
        return tool.run(args, context)
    except (ValueError, TypeError) as exc:  # JSON, msgspec, dates and ToolArgumentError
        return ToolResult(error=f"{name}: {exc}"[:300])


def _date(value: str | None, context: TurnContext) -> date | None:
    if value is None:
        return None
    return date_clamp(date.fromisoformat(value.strip()), today=context.today)


def _place(value: str, key: str) -> Place:
    place = place_named(value.strip())
    if place is None:
        raise ToolArgumentError(f"{key}: no airport or city we serve is called {value!r}")
    return place


def _search_flights(args: SearchFlights, context: TurnContext) -> ToolResult:
    when = _date(args.date, context)
    entities = Entities(
        origin=_place(args.origin, "origin"),
        destination=_place(args.destination, "destination"),
        dates=[when] if when else [],
        cabin=args.cabin,
    )
    return ToolResult(facts=flight_facts(entities, context.now))


def _flight_status(args: FlightStatus, context: TurnContext) -> ToolResult:
    carriers = gazetteer().carriers
    numbers = flight_numbers_in(args.flight_number.strip().upper(), carriers=carriers)
    if not numbers:
        raise ToolArgumentError("flight_number must be a flight of a carrier we serve, like BA117")
    when = _date(args.date, context)
    entities = Entities(flight_numbers=numbers[:1], dates=[when] if when else [])
    return ToolResult(facts=flight_facts(entities, context.now))


def _search_hotels(args: SearchHotels, context: TurnContext) -> ToolResult:
    city = _place(args.city, "city")
    if not city.hotel_city:
        raise ToolArgumentError(f"we sell no hotels in {city.name}")
    check_in = _date(args.check_in, context)
    entities = Entities(destination=city, dates=[check_in] if check_in else [], nights=args.nights)
    return ToolResult(facts=hotel_facts(entities, context.today))


def _my_bookings(args: MyBookings, context: TurnContext) -> ToolResult:
    if context.profile is None:
        return ToolResult(error="my_bookings: the traveller's account is not linked")
    return ToolResult(facts=[trip_fact(trip) for trip in context.profile.upcoming])


def _search_policies(args: SearchPolicies, context: TurnContext) -> ToolResult:
    on_date = _date(args.date, context) or context.today
    query = args.query.strip()
    return ToolResult(chunks=chunks_search(query=query, k=POLICY_RESULTS, on_date=on_date))


_TOOLS: dict[str, Tool[Any]] = {
    "search_flights": Tool(SearchFlights, _search_flights),
    "flight_status": Tool(FlightStatus, _flight_status),
    "search_hotels": Tool(SearchHotels, _search_hotels),
    "my_bookings": Tool(MyBookings, _my_bookings),
    "search_policies": Tool(SearchPolicies, _search_policies),
}
TOOLS: list[dict[str, Any]] = [tool.function(name) for name, tool in _TOOLS.items()]
