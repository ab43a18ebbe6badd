"""Strict parsers for contract fields. Each returns the Python value or raises ValueError.

The contract fixes the types (money as decimal strings, UTC timestamps with a Z,
IATA codes); a record that breaks them is poison, never silently coerced.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

Parser = Callable[[Any], Any]

MAX_TEXT = 2000
_MONEY = re.compile(r"^-?\d{1,12}(\.\d{1,4})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_IATA = re.compile(r"^[A-Z]{3}$")


def text(
    *, max_length: int = MAX_TEXT, nullable: bool = False, pattern: str | None = None
) -> Parser:
    compiled = re.compile(pattern) if pattern else None

    def parse(value: Any) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ValueError("expected a non-empty string")
        if len(value) > max_length:
            raise ValueError(f"longer than {max_length} characters")
        if compiled and not compiled.match(value):
            raise ValueError(f"does not match {compiled.pattern}")
        return value

    return parse


def iata() -> Parser:
    return text(max_length=3, pattern=_IATA.pattern)


def currency() -> Parser:
    return text(max_length=3, pattern=_CURRENCY.pattern)


def choice(values: Iterable[str]) -> Parser:
    allowed = frozenset(values)

    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {sorted(allowed)}")
        return str(value)

    return parse


def integer(*, minimum: int | None = None, maximum: int | None = None) -> Parser:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("expected an integer")
        if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
            raise ValueError(f"out of range [{minimum}, {maximum}]")
        return value

    return parse


def number(*, minimum: float, maximum: float) -> Parser:
    def parse(value: Any) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError("expected a number")
        if not minimum <= value <= maximum:
            raise ValueError(f"out of range [{minimum}, {maximum}]")
        return float(value)

    return parse


def boolean() -> Parser:
    def parse(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError("expected true or false")
        return value

    return parse


def money(*, nullable: bool = False) -> Parser:
    def parse(value: Any) -> Decimal | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not _MONEY.match(value):
            raise ValueError('expected a decimal string such as "412.00"')
        try:
            return Decimal(value)
        except InvalidOperation as exc:  # pragma: no cover - the pattern already guards
            raise ValueError("expected a decimal string") from exc

    return parse


def timestamp(*, nullable: bool = False) -> Parser:
    def parse(value: Any) -> datetime | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.endswith("Z"):
            raise ValueError("expected an ISO 8601 UTC timestamp ending in Z")
        try:
            return datetime.fromisoformat(value[:-1] + "+00:00")
        except ValueError as exc:
            raise ValueError("expected an ISO 8601 UTC timestamp ending in Z") from exc

    return parse


def day(*, nullable: bool = False) -> Parser:
    def parse(value: Any) -> date | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str) or len(value) != 10:
            raise ValueError("expected a date YYYY-MM-DD")
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValueError("expected a date YYYY-MM-DD") from exc

    return parse


def text_list(*, max_items: int = 50, max_length: int = 100) -> Parser:
    item = text(max_length=max_length)

    def parse(value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) > max_items:
            raise ValueError(f"expected a list of at most {max_items} strings")
        return [item(element) for element in value]

    return parse


def int_map(*, keys: Iterable[str], minimum: int = 0, maximum: int = 100_000) -> Parser:
    """A JSON object with exactly the given keys, each an integer in range."""
    wanted = frozenset(keys)
    item = integer(minimum=minimum, maximum=maximum)

    def parse(value: Any) -> dict[str, int]:
        if not isinstance(value, dict) or set(value) != wanted:
            raise ValueError(f"expected an object with keys {sorted(wanted)}")
        return {key: item(element) for key, element in value.items()}

    return parse


def parse_row(row: Any, schema: dict[str, Parser], *, prefix: str) -> dict[str, Any]:
    """Validate every field of `schema` in `row`; extra fields are allowed (additive contract)."""
    if not isinstance(row, dict):
        raise ValueError(f"{prefix}: expected an object")
    parsed: dict[str, Any] = {}
    for name, parser in schema.items():
        try:
            parsed[name] = parser(row.get(name))
        except ValueError as exc:
            raise ValueError(f"{prefix}.{name}: {exc}") from None
    return parsed
