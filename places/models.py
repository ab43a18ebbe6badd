"""Reference data about places: every airport with an IATA code, as a maintained dataset
publishes it (the `airportsdata` package), loaded into Postgres.

What travelbot serves is not decided here: the feeds say that (inventory). A place known here
but not served is still worth knowing, to tell a traveller that we do not fly there.
"""

from __future__ import annotations

from django.db import models


class Airport(models.Model):
    code = models.CharField(max_length=3, primary_key=True)  # IATA location identifier
    icao = models.CharField(max_length=4, blank=True)
    name = models.CharField(max_length=200)
    city = models.CharField(max_length=120)
    subdivision = models.CharField(max_length=120, blank=True)  # state, province or region
    country = models.CharField(max_length=2)  # ISO 3166-1 alpha-2
    # IATA metropolitan area (LON for LHR, LGW, LCY, STN, LTN, SEN) where one exists, else
    # the airport's own code: the code a city's hotels are listed under.
    metro = models.CharField(max_length=3)
    metro_name = models.CharField(max_length=120)
    latitude = models.FloatField()
    longitude = models.FloatField()
    time_zone = models.CharField(max_length=64)  # IANA name

    class Meta:
        managed = False  # created by migration 0001 (why: there); indexed by metro

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ReferenceRelease(models.Model):
    """Which release of a dataset the tables hold: loading again is a no-op until it changes."""

    dataset = models.CharField(max_length=40, primary_key=True)
    release = models.CharField(max_length=40)
    rows = models.IntegerField()
    loaded_at = models.DateTimeField()

    class Meta:
        managed = False

    def __str__(self) -> str:
        return f"{self.dataset} {self.release}"
