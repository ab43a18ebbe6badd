"""What identifies a person in each source record, normalised so that spellings compare.

Emails are trimmed and lower-cased; phones become E.164, a national number read in
PHONE_DEFAULT_REGION; customer ids, member ids and booking references are used as given.
A value that cannot be normalised is not used for matching (a junk phone must neither lose
the customer nor merge strangers) and becomes a data-quality finding for staff.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.conf import settings

CRM, LOYALTY, BOOKING = "crm", "loyalty", "booking"
SOURCES = (CRM, LOYALTY, BOOKING)
# The profile's id is its first record in this order: CRM, then loyalty, then bookings.
SOURCE_RANK = {CRM: 0, LOYALTY: 1, BOOKING: 2}
EMAIL, PHONE, CUSTOMER_ID, MEMBER_ID, BOOKING_REF = (
    "email",
    "phone",
    "customer_id",
    "member_id",
    "booking_ref",
)
KINDS = (EMAIL, PHONE, CUSTOMER_ID, MEMBER_ID, BOOKING_REF)
KEY_KIND = {CRM: CUSTOMER_ID, LOYALTY: MEMBER_ID, BOOKING: BOOKING_REF}
ACCOUNTS = (CRM, LOYALTY)  # a customer's or member's own account; a booking is not one
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]{2,}$")
_SEQUENCES = ("0123456789" * 2, "9876543210" * 2)


@dataclass(frozen=True, order=True)
class Identifier:
    kind: str
    value: str

    def __str__(self) -> str:
        return f"{self.kind.replace('_', ' ')} {self.value}"


@dataclass(frozen=True)
class Finding:
    field: str
    value: str
    problem: str


def is_strong(source: str, kind: str) -> bool:
    """The contract's identity rule 1: a system's own key, an account's own email and a
    booking's customer and member ids are strong; a booking's contact email and every phone
    are weak (families share phones, agents book for many clients with one address)."""
    if kind == PHONE:
        return False
    return not (source == BOOKING and kind == EMAIL)


def node_id(source: str, record_id: str) -> str:
    return f"{source}:{record_id}"


def split_node_id(node: str) -> tuple[str, str]:
    source, _, record_id = node.partition(":")
    return source, record_id


def normalize_email(raw: str) -> str | None:
    email = raw.strip().lower()
    return email if _EMAIL.match(email) else None


def normalize_phone(raw: str) -> str | None:
    """E.164, or None for what is no phone number (too short, junk like 0000000000)."""
    return _normalize_phone(raw, settings.PHONE_DEFAULT_REGION)


# Parsing costs about 90 us in pure Python, and the same numbers come back in every source
# and every update of a record.
@functools.lru_cache(maxsize=65_536)
def _normalize_phone(raw: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    # "Possible" rather than "valid": fiction and test ranges (07700 900xxx) are real data
    # here, and a number that is merely unallocated today still identifies its holder.
    if phonenumbers.is_possible_number_with_reason(number) != (
        phonenumbers.ValidationResult.IS_POSSIBLE
    ):
        return None
    digits = phonenumbers.national_significant_number(number)
    if len(set(digits)) == 1 or any(digits in run for run in _SEQUENCES):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def record_identifiers(
    source: str, record_id: str, row: Any
) -> tuple[set[Identifier], list[Finding]]:
    """The identifiers of one source record (its own key included), and what was unusable."""
    found = {Identifier(KEY_KIND[source], record_id)}
    findings: list[Finding] = []
    for kind, normalize in ((EMAIL, normalize_email), (PHONE, normalize_phone)):
        raw = getattr(row, kind, None)
        if raw is None or not raw.strip():
            continue
        value = normalize(raw)
        if value is None:
            findings.append(Finding(kind, raw, f"not a usable {kind}; not used to match"))
        else:
            found.add(Identifier(kind, value))
    if source == BOOKING:
        for kind in (CUSTOMER_ID, MEMBER_ID):
            if (value := getattr(row, kind)) is not None:
                found.add(Identifier(kind, value))
    return found, findings


def identifier_from_query(kind: str, raw: str) -> Identifier | None:
    """A staff or traveller's search term as an identifier, normalised like the records'."""
    if kind == EMAIL:
        value = normalize_email(raw)
    elif kind == PHONE:
        value = normalize_phone(raw)
    else:
        value = raw.strip() or None
    return None if value is None or len(value) > 320 else Identifier(kind, value)
