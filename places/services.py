"""Loading the airports reference dataset into Postgres, once per release of the package."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import astuple, dataclass, fields
from pathlib import Path

import airportsdata
from django.db import connections, transaction
from django.utils import timezone

from places.models import Airport, ReferenceRelease
from places.selectors import reference_forget

DATASET = "airportsdata"
# IATA metropolitan areas the package's list leaves out an airport of (London Southend,
# Newark): members as IATA publishes them, applied on top of the package's own.
METROS_SUPPLEMENT = Path(__file__).with_name("metros_supplement.csv")


@dataclass(frozen=True, slots=True)
class AirportRow:
    code: str
    icao: str
    name: str
    city: str
    subdivision: str
    country: str
    metro: str
    metro_name: str
    latitude: float
    longitude: float
    time_zone: str


def airport_rows() -> list[AirportRow]:
    """Every airport of the installed release with an IATA code and a time zone."""
    metros = {
        code: (metro_code, metro["name"])
        for metro_code, metro in airportsdata.load_iata_macs().items()
        for code in metro["airports"]
    }
    with METROS_SUPPLEMENT.open(newline="") as supplement:
        for line in csv.DictReader(supplement):
            metros[line["airport"]] = (line["metro"], line["metro_name"])
    rows = []
    for code, a in sorted(airportsdata.load("IATA").items()):
        if not a["tz"]:
            continue
        metro, metro_name = metros.get(code, (code, a["city"] or a["name"]))
        rows.append(
            AirportRow(
                code=code,
                icao=a["icao"],
                name=a["name"],
                city=a["city"] or metro_name,
                subdivision=a["subd"],
                country=a["country"],
                metro=metro,
                metro_name=metro_name,
                latitude=float(a["lat"]),
                longitude=float(a["lon"]),
                time_zone=a["tz"],
            )
        )
    return rows


def airports_load(*, using: str = "default", force: bool = False) -> int:
    """Load the installed release (no-op when it is already loaded); the number of rows
    written. Airports a release drops are kept: bookings and history may still name them."""
    release = loaded_release()
    current = ReferenceRelease.objects.using(using).filter(dataset=DATASET).first()
    if current is not None and current.release == release and not force:
        return 0
    rows = airport_rows()
    columns = [f.name for f in fields(AirportRow)]
    table = Airport._meta.db_table
    assignments = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "code")
    arrays = ", ".join(f"%s::{_sql_type(c)}[]" for c in columns)
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT (code) DO UPDATE SET {assignments}",
            [list(column) for column in zip(*(astuple(r) for r in rows), strict=True)],
        )
        ReferenceRelease.objects.using(using).update_or_create(
            dataset=DATASET,
            defaults={"release": release, "rows": len(rows), "loaded_at": timezone.now()},
        )
    reference_forget()
    return len(rows)


def loaded_release() -> str:
    """The package's release and our supplement's digest: a change to either loads again."""
    digest = hashlib.sha256(METROS_SUPPLEMENT.read_bytes()).hexdigest()[:8]
    return f"{airportsdata.__version__}+{digest}"


def _sql_type(column: str) -> str:
    return "double precision" if column in ("latitude", "longitude") else "text"
