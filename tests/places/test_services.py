"""The airports reference dataset is loaded into Postgres once per release."""

from __future__ import annotations

import pytest

from places.models import Airport, ReferenceRelease
from places.selectors import airport_get, airport_zone
from places.services import airports_load

pytestmark = pytest.mark.django_db


def test_migrate_loads_every_airport_with_its_zone_and_metropolitan_area() -> None:
    assert Airport.objects.count() > 7000
    heathrow = airport_get(code="LHR")
    assert heathrow is not None
    assert (heathrow.city, heathrow.country, heathrow.metro) == ("London", "GB", "LON")
    assert heathrow.time_zone == "Europe/London"
    assert set(Airport.objects.filter(metro="LON").values_list("code", flat=True)) >= {
        "LHR",
        "LGW",
        "LCY",
        "STN",
        "LTN",
        "SEN",
    }


def test_loading_the_same_release_again_writes_nothing() -> None:
    assert airports_load() == 0


def test_a_new_release_updates_rows_in_place() -> None:
    Airport.objects.filter(code="MAD").update(time_zone="Europe/Lisbon")
    ReferenceRelease.objects.update(release="19990101")
    assert airports_load() > 7000
    assert str(airport_zone(code="MAD")) == "Europe/Madrid"


def test_a_metropolitan_code_has_the_zone_of_its_airports() -> None:
    assert str(airport_zone(code="NYC")) == "America/New_York"
    assert airport_zone(code="ZZZ") is None
