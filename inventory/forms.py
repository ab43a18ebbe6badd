"""Validation of the inventory API's query parameters."""

from __future__ import annotations

from typing import Any

from django import forms

from inventory.contract import CABINS, ROOM_TYPES

MAX_NIGHTS = 30
IATA = r"^[A-Za-z]{3}$"


class FlightSearchForm(forms.Form):
    origin = forms.RegexField(regex=IATA, error_messages={"invalid": "Use a 3-letter IATA code."})
    destination = forms.RegexField(
        regex=IATA, error_messages={"invalid": "Use a 3-letter IATA code."}
    )
    date = forms.DateField(input_formats=["%Y-%m-%d"])
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
    check_in = forms.DateField(input_formats=["%Y-%m-%d"])
    check_out = forms.DateField(input_formats=["%Y-%m-%d"])
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
