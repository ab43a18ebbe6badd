"""Numbers come from the data, not from the model: every price, time and flight number in an
answer is checked against the turn's context after generation. One that matches nothing the
context held is "not from our data": flagged in the answer and counted in the provenance.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

CURRENCY = r"(?:£|\$|€|GBP|USD|EUR|CHF|AED|SGD|HKD|THB|INR|AUD|CAD|MXN|DKK|TRY)"
PRICE = re.compile(
    rf"{CURRENCY}\s?(\d[\d,]*(?:\.\d{{1,4}})?)|(\d[\d,]*(?:\.\d{{1,4}})?)\s?{CURRENCY}"
    r"|\b(\d[\d,]*\.\d{2})\b"
)
TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b")
# An IATA airline designator in capitals (two letters, or a letter and a digit either way
# round) and one to four digits: "BA117", "U2 8123".
FLIGHT = re.compile(r"\b([A-Z][A-Z0-9]|[0-9][A-Z])\s?(\d{1,4})\b")
DECIMAL = re.compile(r"\d[\d,]*\.\d+")


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None


def known_values(context_text: str) -> tuple[set[Decimal], set[str], set[str]]:
    """The amounts, times (HH:MM) and flight numbers a context holds."""
    # Prices match prices: a decimal amount or one next to a currency, so "1 passenger"
    # does not vouch for "1.00 GBP".
    quoted = [next(g for g in m.groups() if g) for m in PRICE.finditer(context_text)]
    quoted += DECIMAL.findall(context_text)
    amounts = {a for a in (_amount(n) for n in quoted) if a is not None}
    times = {f"{int(h):02d}:{m}" for h, m in TIME.findall(context_text)}
    flights = {f"{c}{int(n)}" for c, n in FLIGHT.findall(context_text)}
    return amounts, times, flights


def ungrounded_numbers(
    answer: str, context_text: str, *, carriers: frozenset[str] = frozenset()
) -> list[str]:
    """The prices, times and flight numbers in `answer` that the context does not hold, as
    they appear in the answer, in order. A flight number is one of a carrier the feeds carry
    (`carriers`) or the context names, or two capital letters and digits written together;
    "A380", "CO2" or "UK 2026" are not flights of a carrier nobody mentioned."""
    amounts, times, flights = known_values(context_text)
    carriers = carriers | {flight[:2] for flight in flights}
    flagged: list[str] = []
    for match in PRICE.finditer(answer):
        value = _amount(next(g for g in match.groups() if g))
        if value is not None and value not in amounts:
            flagged.append(match.group(0).strip())
    for match in TIME.finditer(answer):
        if f"{int(match.group(1)):02d}:{match.group(2)}" not in times:
            flagged.append(match.group(0))
    for match in FLIGHT.finditer(answer):
        carrier, number = match.group(1), f"{match.group(1)}{int(match.group(2))}"
        digits = match.group(2)
        written_together = carrier.isalpha() and " " not in match.group(0) and len(digits) > 1
        if number not in flights and (carrier in carriers or written_together):
            flagged.append(match.group(0))
    return list(dict.fromkeys(flagged))
