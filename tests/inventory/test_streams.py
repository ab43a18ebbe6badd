"""Inventory stream handlers, called directly on decoded events (no broker)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inventory.models import Fare, Flight, Hotel, HotelRate
from inventory.streams import fares_apply, flights_apply, hotel_rates_apply, hotels_apply
from tests.factories import as_event, envelope, fare_row, flight_row, hotel_row, rate_row
from travelbot.streams import contract
from travelbot.streams.envelope import ChangeEvent


def flight_event(op: str, lsn: int, flight_id: str = "BA117-2026-12-01", **row: Any) -> ChangeEvent:
    event = as_event(
        "flight_id",
        flight_id,
        envelope(op, flight_row(flight_id, **row), lsn=lsn),
        contract.FLIGHTS,
    )
    assert event is not None
    return event


@pytest.mark.django_db
def test_it_inserts_a_new_flight_with_its_version_and_event_time() -> None:
    flights_apply([flight_event("c", 7, gate="A1")])
    flight = Flight.objects.get()
    assert (flight.version, flight.gate, flight.seats_for("premium")) == (7, "A1", 4)
    assert flight.as_of.year == 2026


@pytest.mark.django_db
def test_it_ignores_stale_updates_and_duplicates() -> None:
    flights_apply([flight_event("c", 10, status="delayed")])
    changed = flights_apply(
        [flight_event("u", 9, status="cancelled"), flight_event("u", 10, status="boarding")]
    )
    assert changed.applied == 0
    assert Flight.objects.get().status == "delayed"


@pytest.mark.django_db
def test_the_newest_event_of_a_key_wins_within_one_batch() -> None:
    flights_apply(
        [
            flight_event("u", 3, gate="B3"),
            flight_event("u", 5, gate="B5"),
            flight_event("u", 4, gate="B4"),
        ]
    )
    assert Flight.objects.get().gate == "B5"


@pytest.mark.django_db
def test_a_delete_hides_the_flight_but_remembers_its_version() -> None:
    flights_apply([flight_event("c", 1), flight_event("d", 2)])
    assert not Flight.objects.exists()
    assert Flight.with_deleted.get().version == 2


@pytest.mark.django_db
def test_an_older_update_cannot_resurrect_a_deleted_flight() -> None:
    flights_apply([flight_event("d", 5)])
    flights_apply([flight_event("u", 4)])
    assert not Flight.objects.exists()


@pytest.mark.django_db
def test_a_newer_create_recreates_a_deleted_flight() -> None:
    flights_apply([flight_event("c", 1), flight_event("d", 2)])
    flights_apply([flight_event("c", 3, gate="C9")])
    assert Flight.objects.get().gate == "C9"


@pytest.mark.django_db
def test_a_snapshot_read_is_an_upsert() -> None:
    flights_apply([flight_event("r", 1, status="scheduled")])
    flights_apply([flight_event("r", 2, status="boarding")])
    assert Flight.objects.get().status == "boarding"


def test_a_tombstone_decodes_to_nothing() -> None:
    assert as_event("flight_id", "BA117-2026-12-01", None, contract.FLIGHTS) is None


@pytest.mark.django_db
def test_a_fare_is_stored_before_its_flight_arrives() -> None:
    event = as_event(
        "fare_id",
        "ZZ1-2026-12-01:business:J",
        envelope(
            "c", fare_row("ZZ1-2026-12-01:business:J", amount="2100.50"), lsn=1, table="fares"
        ),
        contract.FARES,
    )
    assert event is not None
    fares_apply([event])
    assert Fare.objects.get().amount == Decimal("2100.50")


@pytest.mark.django_db
def test_hotels_and_rates_are_applied_with_their_types() -> None:
    hotel = as_event(
        "hotel_id", "H-NYC-0042", envelope("r", hotel_row(), lsn=1, table="hotels"), contract.HOTELS
    )
    rate = as_event(
        "rate_id",
        "H-NYC-0042:2026-12-01:double",
        envelope("r", rate_row(), lsn=1, table="hotel_rates"),
        contract.HOTEL_RATES,
    )
    assert hotel is not None and rate is not None
    hotels_apply([hotel])
    hotel_rates_apply([rate])
    assert Hotel.objects.get().amenities == ["wifi", "gym"]
    assert str(HotelRate.objects.get().night) == "2026-12-01"


# Any history of one table (duplicates, stale replays, deletes, re-creates, tombstones,
# in any order and split into any batches) ends as if each key got only its newest event.
KEYS = [f"TB{n}-2026-12-01" for n in range(4)]
history_item = st.tuples(
    st.sampled_from(KEYS),
    st.integers(min_value=1, max_value=30),
    st.sampled_from(["c", "u", "r", "d", "tombstone"]),
    st.sampled_from(["A1", "B2", None]),
)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    history=st.lists(history_item, max_size=40), batch_size=st.integers(min_value=1, max_value=10)
)
def test_any_history_ends_in_the_state_of_each_keys_newest_event(
    history: list[tuple[str, int, str, str | None]], batch_size: int
) -> None:
    Flight.with_deleted.all().delete()
    events: list[ChangeEvent] = []
    for key, lsn, op, gate in history:
        if op == "tombstone":
            assert as_event("flight_id", key, None, contract.FLIGHTS) is None
            continue
        events.append(flight_event(op, lsn, key, gate=gate))
    for start in range(0, len(events), batch_size):
        flights_apply(events[start : start + batch_size])
    assert visible_state() == expected_state(events)


def expected_state(events: list[ChangeEvent]) -> dict[str, tuple[int, str | None]]:
    newest: dict[str, ChangeEvent] = {}
    for event in events:  # the first event of a given (key, lsn) wins: later ones are duplicates
        if event.key not in newest or event.lsn > newest[event.key].lsn:
            newest[event.key] = event
    return {key: (e.lsn, e.row.gate) for key, e in newest.items() if e.row is not None}


def visible_state() -> dict[str, tuple[int, str | None]]:
    return {f.flight_id: (f.version, f.gate) for f in Flight.objects.all()}


def flight_event_from(system: str, lsn: int, **row: Any) -> ChangeEvent:
    value = envelope("u", flight_row(**row), lsn=lsn)
    value["source"]["system"] = system
    event = as_event("flight_id", "BA117-2026-12-01", value, contract.FLIGHTS)
    assert event is not None
    return event


@pytest.mark.django_db
def test_a_key_belongs_to_the_system_that_created_it() -> None:
    flights_apply([flight_event_from("gds", 5, gate="A1")])
    result = flights_apply([flight_event_from("other-gds", 900, gate="Z9")])
    assert result.applied == 0
    [(event, reason)] = result.rejected
    assert event.system == "other-gds"
    assert "belongs to source system 'gds'; this event came from 'other-gds'" in reason
    flight = Flight.objects.get()
    assert (flight.gate, flight.version, flight.source_system) == ("A1", 5, "gds")


@pytest.mark.django_db
def test_within_one_batch_the_first_system_to_write_a_key_claims_it() -> None:
    result = flights_apply(
        [flight_event_from("gds", 5, gate="A1"), flight_event_from("other-gds", 9, gate="Z9")]
    )
    assert (result.applied, len(result.rejected)) == (1, 1)
    assert Flight.objects.get().gate == "A1"


@pytest.mark.django_db
def test_stale_events_of_the_owner_are_not_mistaken_for_foreign_ones() -> None:
    flights_apply([flight_event_from("gds", 5)])
    assert flights_apply([flight_event_from("gds", 4)]).rejected == []
