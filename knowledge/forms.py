"""Forms of the knowledge editor and of the search API."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms

from knowledge.services import DocumentInput

FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class DocumentForm(forms.Form):
    doc_id = forms.RegexField(
        regex=r"^[a-z0-9][a-z0-9-]{0,99}\Z",
        label="Id (in its address)",
        help_text="Lower-case letters, digits and dashes: /help/<id>",
        error_messages={"invalid": "Use lower-case letters, digits and dashes."},
    )
    title = forms.CharField(max_length=200)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 22}), max_length=200_000)
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. baggage, fees")
    effective_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    effective_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean_tags(self) -> list[str]:
        tags = [t.strip().lower() for t in self.cleaned_data["tags"].split(",") if t.strip()]
        if len(tags) > 30 or any(len(t) > 50 for t in tags):
            raise forms.ValidationError("At most 30 tags of 50 characters.")
        return tags

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("effective_from"), data.get("effective_to")
        for name in ("effective_from", "effective_to"):
            value = data.get(name)
            if value and not FIRST_DAY <= value <= LAST_DAY:
                self.add_error(name, f"Use a date between {FIRST_DAY} and {LAST_DAY}.")
        if start and end and end < start:
            self.add_error("effective_to", "It cannot end before it starts.")
        return data

    def document(self) -> DocumentInput:
        data = self.cleaned_data
        return DocumentInput(
            doc_id=data["doc_id"],
            title=data["title"].strip(),
            body=data["body"],
            tags=data["tags"],
            effective_from=data.get("effective_from"),
            effective_to=data.get("effective_to"),
        )


class SearchForm(forms.Form):
    q = forms.CharField(max_length=500)
    k = forms.IntegerField(min_value=1, max_value=50, required=False)
    date = forms.DateField(input_formats=["%Y-%m-%d"], required=False)

    def clean_date(self) -> dt.date | None:
        value = self.cleaned_data.get("date")
        if value and not FIRST_DAY <= value <= LAST_DAY:
            raise forms.ValidationError(f"Use a date between {FIRST_DAY} and {LAST_DAY}.")
        return value
