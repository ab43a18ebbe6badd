"""How times leave the app: ISO 8601 in UTC with a Z, as the stream contract writes them."""

from __future__ import annotations

from datetime import datetime


def iso_z(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
