"""Personal data out of exported text.

Two passes: first the traveller's own values as their profile and account know them (names
have no pattern, and their own booking references may be all letters), then patterns for
anyone's email, loyalty number, CRM id, booking reference and phone number. The patterns
prefer scrubbing a harmless token (a six-character code that is not a booking) to leaking one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import phonenumbers

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
BOOKING_REF = "[BOOKING_REF]"
LOYALTY_ID = "[LOYALTY_ID]"
CRM_ID = "[CRM_ID]"
NAME = "[NAME]"

# Order matters: loyalty and CRM ids before phones (their digits look like one), emails
# first of all (their local part may hold anything).
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), EMAIL),
    (re.compile(r"\bTB-?\d{9}\b", re.IGNORECASE), LOYALTY_ID),
    (re.compile(r"\bC-\d+\b"), CRM_ID),
    (re.compile(r"\b(?=[A-Z0-9]{6}\b)(?=[A-Z]*\d)(?=\d*[A-Z])[A-Z0-9]{6}\b"), BOOKING_REF),
    # 9 to 15 digits with single separators; never followed by ":" so "2026-12-01 08:25"
    # stays a date and time.
    (re.compile(r"(?<![\w+])(?:\+|\()?\d(?:[\s.()-]{0,2}\d){8,14}(?![\w:])"), PHONE),
)


@dataclass(frozen=True)
class Known:
    """Travellers' own values, as replacements to make before the patterns, longest first
    so that "Ana Silva" goes as one name before "Ana" could split it."""

    values: tuple[tuple[re.Pattern[str], str], ...] = ()

    def __or__(self, other: Known) -> Known:
        merged = sorted(self.values + other.values, key=lambda v: -len(v[0].pattern))
        return Known(values=tuple(merged))


def known_values(
    *,
    names: Iterable[str] = (),
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    booking_refs: Iterable[str] = (),
    loyalty_ids: Iterable[str] = (),
    crm_ids: Iterable[str] = (),
) -> Known:
    values = [(n, NAME) for name in names for n in _name_parts(name)]
    values += [(v, EMAIL) for v in emails]
    values += [(v, BOOKING_REF) for v in booking_refs]
    values += [(v, LOYALTY_ID) for v in loyalty_ids]
    values += [(v, CRM_ID) for v in crm_ids]
    values += [(p, PHONE) for phone in phones for p in _phone_spellings(phone)]
    kept = sorted({(v.strip(), t) for v, t in values if len(v.strip()) >= 2}, key=_longest)
    return Known(values=tuple((_value_pattern(v), t) for v, t in kept))


def text_scrub(text: str, *, known: Known | None = None) -> str:
    for pattern, placeholder in known.values if known else ():
        text = pattern.sub(placeholder, text)
    for pattern, placeholder in PATTERNS:
        text = pattern.sub(placeholder, text)
    return text


def _longest(item: tuple[str, str]) -> tuple[int, str]:
    return (-len(item[0]), item[0])


def _name_parts(name: str) -> list[str]:
    return [name, *name.split()]


def _phone_spellings(phone: str) -> list[str]:
    """The national digits too: a traveller writes "07700 900123" for "+447700900123"."""
    try:
        parsed = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return [phone]
    return [phone, str(parsed.national_number)]


def _value_pattern(value: str) -> re.Pattern[str]:
    """The value case-insensitively, as a whole word, with any separators between digits."""
    if value.replace("+", "").isdigit():
        body = r"[\s.()-]*".join(re.escape(c) for c in value)
    else:
        body = re.escape(value)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)
