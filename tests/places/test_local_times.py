"""The template filters that show departures and arrivals on their airports' clocks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.template import Context, Template

pytestmark = pytest.mark.django_db

FLIGHT = (
    "{% load local_times %}"
    "{% with departs=departure|at_airport:origin %}"
    "{{ departs|day_and_clock }} → {{ arrival|at_airport:destination|arrival:departs }}"
    "{% endwith %}"
)


def rendered(**context: object) -> str:
    return Template(FLIGHT).render(Context(context))


def test_a_flight_reads_in_local_times_with_the_arrivals_day_when_it_differs() -> None:
    overnight = rendered(
        origin="MAD", departure=datetime(2026, 12, 15, 22, 30, tzinfo=UTC),
        destination="JFK", arrival=datetime(2026, 12, 16, 6, 45, tzinfo=UTC),
    )  # fmt: skip
    assert overnight == "Tue 15 Dec 23:30 CET → Wed 16 Dec 01:45 EST"


def test_a_same_day_arrival_reads_as_its_time_alone() -> None:
    same_day = rendered(
        origin="LHR", departure=datetime(2026, 7, 15, 8, 25, tzinfo=UTC),
        destination="JFK", arrival=datetime(2026, 7, 15, 16, 40, tzinfo=UTC),
    )  # fmt: skip
    assert same_day == "Wed 15 Jul 09:25 BST → 12:40 EDT"


def test_no_time_renders_nothing() -> None:
    assert rendered(origin="MAD", departure=None, destination="JFK", arrival=None) == " → "
