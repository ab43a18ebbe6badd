from __future__ import annotations

from pathlib import Path

from django import forms
from django.conf import settings

from exports.destinations import DestinationError, destination_normalise
from exports.models import ExportFormat


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=ExportFormat.choices, initial=ExportFormat.JSONL)
    to = forms.CharField(
        label="Destination",
        max_length=1000,
        initial=lambda: str(settings.EXPORTS_DIR),
        help_text=(
            "s3://bucket/prefix under an allowed S3 prefix, or a directory under the exports "
            "directory."
        ),
    )

    def clean_to(self) -> str:
        """From the web, local exports stay under EXPORTS_DIR: a staff account must not be
        able to make the server write wherever its process may."""
        try:
            to = destination_normalise(self.cleaned_data["to"])
        except DestinationError as exc:
            raise forms.ValidationError(str(exc)) from exc
        if not to.startswith("s3://") and not inside_exports_dir(to):
            raise forms.ValidationError(f"Local exports go under {settings.EXPORTS_DIR}.")
        return to


def inside_exports_dir(path: str) -> bool:
    return Path(path).resolve().is_relative_to(Path(settings.EXPORTS_DIR).resolve())
