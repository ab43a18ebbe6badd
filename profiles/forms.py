"""Forms of the profile pages and the staff API's query."""

from __future__ import annotations

from typing import Any

from django import forms

from profiles.identifiers import KINDS, Identifier, identifier_from_query


class EmailLinkForm(forms.Form):
    email = forms.EmailField(label="Email", max_length=320)


class LoyaltyLinkForm(forms.Form):
    member_id = forms.CharField(label="Loyalty number", max_length=64)
    booking_ref = forms.CharField(label="Booking reference", max_length=16)


class EraseForm(forms.Form):
    confirm = forms.CharField(label="Type the profile id to confirm", max_length=80)

    def __init__(self, *args: Any, profile_id: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.profile_id = profile_id

    def clean_confirm(self) -> str:
        if self.cleaned_data["confirm"].strip() != self.profile_id:
            raise forms.ValidationError("That is not this profile's id.")
        return str(self.cleaned_data["confirm"])


def profile_query(params: dict[str, str]) -> tuple[Identifier | None, str | None]:
    """Exactly one of email, phone, customer_id, member_id, booking_ref: (identifier, error)."""
    given = {key: value for key, value in params.items() if value}
    unknown = set(given) - set(KINDS)
    if unknown:
        return None, f"unknown parameter(s): {', '.join(sorted(unknown))}"
    if len(given) != 1:
        return None, f"give exactly one of: {', '.join(KINDS)}"
    ((kind, raw),) = given.items()
    identifier = identifier_from_query(kind, raw)
    if identifier is None:
        return None, f"{kind} {raw[:60]!r} is not a usable {kind.replace('_', ' ')}"
    return identifier, None
