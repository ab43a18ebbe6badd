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
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.utils import timezone

from chat.context import Fact, TurnContext, flight_facts, hotel_facts, trip_fact
from chat.entities import Entities, Place, place_named, recognise
from knowledge.selectors import SearchResult, chunks_search

MAX_ARGUMENT_CHARS = 200
MAX_NIGHTS = 30
POLICY_RESULTS = 4

_STRING = {"type": "string"}
_DATE = {"type": "string", "description": "YYYY-MM-DD"}
TOOLS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }
    for name, description, properties, required in (
        (
            "search_flights",
            "Live flights between two places (city, airport name or code) on a date, with "
            "the cheapest fare per cabin.",
            {
                "origin": _STRING,
                "destination": _STRING,
                "date": _DATE,
                "cabin": {"type": "string", "enum": ["economy", "premium", "business"]},
            },
            ["origin", "destination"],
        ),
        (
            "flight_status",
            "Live status, gate, times and seats of a flight by its number (e.g. BA117).",
            {"flight_number": _STRING, "date": _DATE},
            ["flight_number"],
        ),
        (
            "search_hotels",
            "Hotels with rooms free in a city for a stay, with totals and nightly rates.",
            {"city": _STRING, "check_in": _DATE, "nights": {"type": "integer"}},
            ["city", "check_in"],
        ),
        ("my_bookings", "The traveller's own upcoming bookings with live flight status.", {}, []),
        (
            "search_policies",
            "The agency's policy and help text on a topic, in force on a date.",
            {"query": _STRING, "date": _DATE},
            ["query"],
        ),
    )
]


class ToolArgumentError(ValueError):
    pass


@dataclass
class ToolResult:
    facts: list[Fact] = field(default_factory=list)
    chunks: list[SearchResult] = field(default_factory=list)
    error: str = ""


def tool_run(*, name: str, arguments: str, context: TurnContext) -> ToolResult:
    """Run one tool call for the turn's traveller; bad arguments give an error result."""
    try:
        args = json.loads(arguments or "{}")
        if not isinstance(args, dict):
            raise ToolArgumentError("arguments must be a JSON object")
        run = _RUNNERS.get(name)
        if run is None:
            raise ToolArgumentError(f"unknown tool {name!r}")
        return run(args, context)
    except (ValueError, TypeError) as exc:  # JSON, dates and ToolArgumentError
        return ToolResult(error=f"{name}: {exc}"[:300])


def _text(args: dict[str, Any], key: str, *, required: bool = True) -> str:
    value = args.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ARGUMENT_CHARS:
        raise ToolArgumentError(f"{key} must be a short text")
    return value.strip()


def _date(args: dict[str, Any], key: str) -> date | None:
    value = _text(args, key, required=False)
    return date.fromisoformat(value) if value else None


def _place(args: dict[str, Any], key: str) -> Place:
    place = place_named(_text(args, key))
    if place is None:
        raise ToolArgumentError(f"{key}: no airport or city we serve is called {args[key]!r}")
    return place


def _search_flights(args: dict[str, Any], context: TurnContext) -> ToolResult:
    cabin = _text(args, "cabin", required=False) or None
    when = _date(args, "date")
    entities = Entities(
        origin=_place(args, "origin"),
        destination=_place(args, "destination"),
        dates=[when] if when else [],
        cabin=cabin if cabin in ("economy", "premium", "business") else None,
    )
    return ToolResult(facts=flight_facts(entities, context.now))


def _flight_status(args: dict[str, Any], context: TurnContext) -> ToolResult:
    numbers = recognise(_text(args, "flight_number"), today=context.now.date()).flight_numbers
    if not numbers:
        raise ToolArgumentError("flight_number must look like BA117")
    when = _date(args, "date")
    entities = Entities(flight_numbers=numbers[:1], dates=[when] if when else [])
    return ToolResult(facts=flight_facts(entities, context.now))


def _search_hotels(args: dict[str, Any], context: TurnContext) -> ToolResult:
    city = _place(args, "city")
    if not city.hotel_city:
        raise ToolArgumentError(f"we sell no hotels in {city.name}")
    nights = args.get("nights", 2)
    if not isinstance(nights, int) or not 1 <= nights <= MAX_NIGHTS:
        raise ToolArgumentError(f"nights must be a whole number from 1 to {MAX_NIGHTS}")
    check_in = date.fromisoformat(_text(args, "check_in"))
    entities = Entities(destination=city, dates=[check_in], nights=nights)
    return ToolResult(facts=hotel_facts(entities, timezone.localdate(context.now)))


def _my_bookings(args: dict[str, Any], context: TurnContext) -> ToolResult:
    if context.profile is None:
        return ToolResult(error="my_bookings: the traveller's account is not linked")
    return ToolResult(facts=[trip_fact(trip) for trip in context.profile.upcoming])


def _search_policies(args: dict[str, Any], context: TurnContext) -> ToolResult:
    on_date = _date(args, "date") or timezone.localdate(context.now)
    query = _text(args, "query")
    return ToolResult(chunks=chunks_search(query=query, k=POLICY_RESULTS, on_date=on_date))


_RUNNERS = {
    "search_flights": _search_flights,
    "flight_status": _flight_status,
    "search_hotels": _search_hotels,
    "my_bookings": _my_bookings,
    "search_policies": _search_policies,
}
