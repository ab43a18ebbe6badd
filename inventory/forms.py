"""Validation of the inventory API's query parameters."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms

from travelbot.streams.contract import CABINS, ROOM_TYPES

MAX_NIGHTS = 30
IATA = r"^[A-Za-z]{3}\Z"
# Inventory covers the near future; a wider range only invites date arithmetic overflows.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
MAX_ID_LENGTH = 96


class TravelDateField(forms.DateField):
    """A YYYY-MM-DD date within the range inventory can hold."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["%Y-%m-%d"], **kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        if value and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(f"Use a date between {FIRST_DAY} and {LAST_DAY}.")


def id_problem(value: str) -> str | None:
    """Why a path id can never name a record (too long, control characters), or None."""
    if len(value) > MAX_ID_LENGTH:
        return f"ids are at most {MAX_ID_LENGTH} characters"
    if any(ord(char) < 32 for char in value):
        return "ids contain no control characters"
    return None


class FlightSearchForm(forms.Form):
    origin = forms.RegexField(
        regex=IATA, error_messages={"invalid": "Use a 3-letter IATA airport or city code."}
    )
    destination = forms.RegexField(
        regex=IATA, error_messages={"invalid": "Use a 3-letter IATA airport or city code."}
    )
    date = TravelDateField()
    cabin = forms.ChoiceField(choices=[(c, c) for c in CABINS], required=False)
    passengers = forms.IntegerField(min_value=1, max_value=9, required=False)

    def clean_origin(self) -> str:
        return str(self.cleaned_data["origin"]).upper()

    def clean_destination(self) -> str:
        return str(self.cleaned_data["destination"]).upper()


class HotelSearchForm(forms.Form):
    city = forms.RegexField(
        regex=IATA, error_messages={"invalid": "Use a 3-letter IATA city code."}
    )
    check_in = TravelDateField()
    check_out = TravelDateField()
    room_type = forms.ChoiceField(choices=[(r, r) for r in ROOM_TYPES], required=False)
    rooms = forms.IntegerField(min_value=1, max_value=9, required=False)

    def clean_city(self) -> str:
        return str(self.cleaned_data["city"]).upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_in, check_out = cleaned.get("check_in"), cleaned.get("check_out")
        if check_in and check_out:
            nights = (check_out - check_in).days
            if nights < 1:
                self.add_error("check_out", "Check-out must be after check-in.")
            elif nights > MAX_NIGHTS:
                self.add_error("check_out", f"Stays are limited to {MAX_NIGHTS} nights.")
        return cleaned
