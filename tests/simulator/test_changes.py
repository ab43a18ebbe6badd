"""The feed simulator's world and change generator (pure: no broker, no database).

Publishing through the real broker is tested in test_publisher.py.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from simulator.changes import (
    KIND_WEIGHTS,
    MALFORMED_KINDS,
    MAX_DELAY,
    NO_FAULTS,
    SOURCE_BY_TOPIC,
    SOURCES,
    Change,
    ChangeGenerator,
    Faults,
    Item,
    RawRecord,
    malformed_record,
    snapshot_changes,
)
from simulator.geography import AIRPORTS_BY_CODE, CARRIER_CURRENCY, CITIES_BY_CODE
from simulator.publisher import Pacer
from simulator.world import (
    MAX_FLIGHT_NUMBER,
    World,
    WorldSpec,
    generate_world,
    next_flight_number,
    parse_iso,
)
from travelbot.streams.envelope import ChangeEvent, PoisonRecord, decode_change
from travelbot.streams.kafka import encode_json

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TINY = WorldSpec(days=4, routes=12, cities=3, hotels_per_city=(2, 3))
SMALL = WorldSpec(days=10, routes=40, cities=4, hotels_per_city=(3, 5))
FAULT_KINDS = {
    "duplicate",
    "replay",
    "injected_tombstone",
    *(f"malformed_{k}" for k in MALFORMED_KINDS),
}


def tiny_world(seed: int = 11, spec: WorldSpec = TINY) -> World:
    return generate_world(spec, seed=seed, now=NOW)


def fixed_clock(moment: datetime = NOW) -> Callable[[], float]:
    return lambda: moment.timestamp()


def ticking_clock(step: timedelta) -> Callable[[], float]:
    ticks = itertools.count()
    return lambda: (NOW + step * next(ticks)).timestamp()


def generate(
    world: World,
    count: int,
    *,
    faults: Faults = NO_FAULTS,
    seed: int = 5,
    clock: Callable[[], float] | None = None,
    weights: Mapping[str, float] = KIND_WEIGHTS,
) -> list[Item]:
    generator = ChangeGenerator(
        world, seed=seed, faults=faults, clock=clock or fixed_clock(), weights=weights
    )
    return list(itertools.islice(generator, count))


def decode(item: Item) -> ChangeEvent | None:
    source = SOURCE_BY_TOPIC[item.topic]
    key: bytes | None
    value: bytes | None
    if isinstance(item, RawRecord):
        key, value = item.key, item.value
    else:
        key, value = encode_json(item.key), encode_json(item.value)
    return decode_change(key, value, topic=source.contract)


def base_changes(items: list[Item]) -> list[Change]:
    """The generated changes themselves: no faults, no tombstones."""
    return [
        item
        for item in items
        if isinstance(item, Change) and item.value is not None and item.kind not in FAULT_KINDS
    ]


def key_of(item: Item) -> tuple[str, str]:
    assert isinstance(item, Change)
    return item.topic, next(iter(item.key.values()))


def row_key(table: str, row: dict[str, Any]) -> tuple[str, str]:
    source = SOURCES[table]
    return source.topic, row[source.key_field]


# -- the world ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_world() -> None:
    assert tiny_world(seed=3).rows == tiny_world(seed=3).rows


def test_another_seed_gives_another_world() -> None:
    assert tiny_world(seed=3).rows != tiny_world(seed=4).rows


def test_the_world_has_roughly_the_requested_size() -> None:
    size = tiny_world().size()
    assert TINY.routes * TINY.days <= size["flights"] <= 3 * TINY.routes * TINY.days
    assert size["fares"] == 3 * size["flights"]
    assert 2 * TINY.cities <= size["hotels"] <= 3 * TINY.cities
    assert size["hotel_rates"] == size["hotels"] * TINY.days * 3


def test_the_default_world_has_about_36k_flights_and_67k_rates() -> None:
    size = generate_world(seed=7, now=NOW).size()
    assert 30_000 <= size["flights"] <= 42_000
    assert size["fares"] == 3 * size["flights"]
    assert 250 <= size["hotels"] <= 500
    assert size["hotel_rates"] == size["hotels"] * 60 * 3


def test_ids_follow_the_contract_formats() -> None:
    world = tiny_world()
    for flight in world.rows["flights"].values():
        assert flight["flight_id"] == f"{flight['flight_number']}-{flight['departure_at'][:10]}"
        assert re.fullmatch(r"[A-Z]{2}\d{1,4}-\d{4}-\d{2}-\d{2}", flight["flight_id"])
    for fare in world.rows["fares"].values():
        assert fare["fare_id"] == f"{fare['flight_id']}:{fare['cabin']}:{fare['fare_class']}"
    for hotel in world.rows["hotels"].values():
        assert re.fullmatch(rf"H-{hotel['city']}-\d{{4}}", hotel["hotel_id"])
    for rate in world.rows["hotel_rates"].values():
        assert rate["rate_id"] == f"{rate['hotel_id']}:{rate['night']}:{rate['room_type']}"


def test_fares_are_priced_in_the_carriers_home_currency() -> None:
    world = tiny_world()
    for fare in world.rows["fares"].values():
        carrier = world.rows["flights"][fare["flight_id"]]["carrier"]
        assert fare["currency"] == CARRIER_CURRENCY[carrier]
        assert re.fullmatch(r"\d+\.\d\d", fare["amount"])


def test_cities_use_the_iata_metropolitan_codes() -> None:
    assert {AIRPORTS_BY_CODE[code].metro for code in ("LHR", "LGW")} == {"LON"}
    assert {AIRPORTS_BY_CODE[code].metro for code in ("JFK", "EWR")} == {"NYC"}
    assert {AIRPORTS_BY_CODE[code].metro for code in ("CDG", "ORY")} == {"PAR"}
    assert {"LON", "NYC", "PAR"} <= set(CITIES_BY_CODE)


def test_hotel_rates_are_priced_in_the_local_currency() -> None:
    world = tiny_world()
    for rate in world.rows["hotel_rates"].values():
        city = world.rows["hotels"][rate["hotel_id"]]["city"]
        assert rate["currency"] == CITIES_BY_CODE[city].currency


# -- the snapshot -------------------------------------------------------------------------------


def test_every_snapshot_event_satisfies_the_contract() -> None:
    world = tiny_world()
    events = [decode(change) for change in snapshot_changes(world)]
    assert len(events) == sum(world.size().values())
    assert all(event is not None and event.op == "r" for event in events)


def test_the_snapshot_sends_flights_before_fares_and_hotels_before_rates() -> None:
    topics = [change.topic for change in snapshot_changes(tiny_world())]
    last_flight = max(i for i, topic in enumerate(topics) if topic == "inventory.flights")
    assert last_flight < topics.index("inventory.fares")
    assert topics.index("inventory.hotel_rates") > max(
        i for i, topic in enumerate(topics) if topic == "inventory.hotels"
    )


def test_every_event_names_its_source_system_and_table() -> None:
    for change in snapshot_changes(tiny_world()):
        source = SOURCE_BY_TOPIC[change.topic]
        assert change.value is not None
        assert change.value["source"]["system"] == source.system
        assert change.value["source"]["table"] == source.table
        assert change.key == {source.key_field: change.value["after"][source.key_field]}


# -- changes ------------------------------------------------------------------------------------


def test_every_change_event_satisfies_the_contract() -> None:
    items = generate(tiny_world(spec=SMALL), 4000, clock=ticking_clock(timedelta(seconds=30)))
    for item in items:
        event = decode(item)
        assert (event is None) == (item.kind == "tombstone")


def test_lsn_strictly_increases_per_table() -> None:
    world = tiny_world()
    items = [*snapshot_changes(world), *generate(world, 3000)]
    last: dict[tuple[str, str], int] = defaultdict(int)
    for item in items:
        if isinstance(item, Change) and item.value is not None:
            source = item.value["source"]
            assert source["lsn"] > last[source["system"], source["table"]]
            last[source["system"], source["table"]] = source["lsn"]


def test_a_rerun_outranks_every_event_of_an_earlier_run() -> None:
    first = tiny_world()
    earlier = [*snapshot_changes(first), *generate(first, 500)]
    newest = max(
        item.value["source"]["lsn"]
        for item in earlier
        if isinstance(item, Change) and item.value is not None
    )
    rerun = list(snapshot_changes(tiny_world()))
    assert min(change.value["source"]["lsn"] for change in rerun if change.value) > newest


def test_the_after_of_one_change_is_the_before_of_the_next() -> None:
    world = tiny_world(spec=SMALL)
    current = {row_key(t, row): row for t, rows in world.rows.items() for row in rows.values()}
    for change in base_changes(generate(world, 4000)):
        key, value = key_of(change), change.value
        assert value is not None
        if value["op"] == "c":
            assert key not in current and value["before"] is None
        else:
            assert value["before"] == current.pop(key)
        if value["after"] is not None:
            current[key] = value["after"]


def test_every_change_is_applied_to_the_world() -> None:
    world = tiny_world(spec=SMALL)
    latest: dict[tuple[str, str], Any] = {}
    for change in base_changes(generate(world, 4000)):
        assert change.value is not None
        latest[key_of(change)] = change.value["after"]
    for (topic, key), after in latest.items():
        assert world.rows[SOURCE_BY_TOPIC[topic].table].get(key) == after


def test_a_delete_is_followed_by_a_tombstone_of_the_same_key() -> None:
    items = generate(tiny_world(spec=SMALL), 6000)
    deletes = [
        i
        for i, item in enumerate(items)
        if isinstance(item, Change) and item.value and item.value["op"] == "d"
    ]
    assert deletes
    for index in deletes[:-1] if deletes[-1] == len(items) - 1 else deletes:  # cut by islice
        following = items[index + 1]
        assert isinstance(following, Change) and following.value is None
        assert following.key == items[index].key


def test_a_delete_carries_the_row_before_and_no_row_after() -> None:
    for change in base_changes(generate(tiny_world(spec=SMALL), 6000)):
        assert change.value is not None
        if change.value["op"] == "d":
            assert change.value["after"] is None and change.value["before"] is not None


def test_the_mix_includes_every_kind_of_change() -> None:
    # Delays, gate changes and cancellations are rare at the default weights.
    items = generate(
        tiny_world(spec=SMALL),
        20_000,
        clock=ticking_clock(timedelta(seconds=20)),
        weights=dict.fromkeys(KIND_WEIGHTS, 1.0),
    )
    kinds = {item.kind for item in items}
    assert set(KIND_WEIGHTS) | {"new_fare", "withdrawn_fare", "tombstone"} <= kinds


def test_flights_progress_in_order_as_time_passes() -> None:
    world = tiny_world(spec=SMALL)
    later = NOW + timedelta(hours=6)
    moves = [c for c in generate(world, 3000, clock=fixed_clock(later)) if c.kind == "progress"]
    assert moves
    allowed = {
        ("scheduled", "boarding"),
        ("delayed", "boarding"),
        ("boarding", "departed"),
        ("departed", "arrived"),
    }
    for change in moves:
        assert isinstance(change, Change) and change.value is not None
        before, after = change.value["before"], change.value["after"]
        assert (before["status"], after["status"]) in allowed
        assert after["gate"] is not None


def test_seat_sales_only_reduce_seats() -> None:
    for change in base_changes(generate(tiny_world(spec=SMALL), 3000)):
        if change.kind == "seat_sale":
            assert change.value is not None
            before, after = (change.value[side]["seats_available"] for side in ("before", "after"))
            assert sum(after.values()) < sum(before.values())
            assert all(after[cabin] <= before[cabin] for cabin in before)


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", MALFORMED_KINDS)
@pytest.mark.parametrize("table", list(SOURCES))
def test_every_malformed_kind_is_a_poison_record(variant: str, table: str) -> None:
    world = tiny_world()
    change = next(c for c in snapshot_changes(world) if c.topic == SOURCES[table].topic)
    with pytest.raises(PoisonRecord):
        decode(malformed_record(change, variant))


def test_every_generated_malformed_record_is_a_poison_record() -> None:
    items = generate(tiny_world(), 3000, faults=Faults(malformed_ratio=0.2))
    malformed = [item for item in items if isinstance(item, RawRecord)]
    assert {item.kind for item in malformed} == {f"malformed_{k}" for k in MALFORMED_KINDS}
    for item in malformed:
        with pytest.raises(PoisonRecord):
            decode(item)


@pytest.mark.parametrize(
    ("option", "kind"),
    [
        ("duplicate_ratio", "duplicate"),
        ("replay_ratio", "replay"),
        ("tombstone_ratio", "injected_tombstone"),
        ("malformed_ratio", "malformed"),
    ],
)
def test_each_fault_appears_at_about_its_requested_ratio(option: str, kind: str) -> None:
    items = generate(tiny_world(spec=SMALL), 8000, faults=Faults(**{option: 0.1}))
    faults = sum(1 for item in items if item.kind.startswith(kind))
    assert 0.08 <= faults / len(base_changes(items)) <= 0.12


def test_a_duplicate_repeats_an_event_of_the_change_just_sent() -> None:
    items = generate(tiny_world(), 3000, faults=Faults(duplicate_ratio=0.1))
    for index, item in enumerate(items):
        if item.kind == "duplicate":
            # Faults follow the whole change, which is a few events for a withdrawn flight.
            recent = [
                (i.topic, i.key, i.value)
                for i in items[max(0, index - 12) : index]
                if i.kind not in FAULT_KINDS
            ]
            assert (item.topic, item.key, item.value) in recent


def test_a_replay_is_an_older_event_of_its_key_with_its_old_lsn() -> None:
    world = tiny_world()
    sent = list(snapshot_changes(world))
    items = generate(world, 3000, faults=Faults(replay_ratio=0.1))
    newest: dict[tuple[str, str], int] = {}
    seen: set[tuple[str, str, int]] = set()
    for change in sent:
        assert change.value is not None
        newest[key_of(change)] = change.value["source"]["lsn"]
        seen.add((*key_of(change), change.value["source"]["lsn"]))
    replays = 0
    for item in items:
        if not isinstance(item, Change) or item.value is None or item.kind == "duplicate":
            continue
        key, lsn = key_of(item), item.value["source"]["lsn"]
        if item.kind == "replay":
            replays += 1
            assert (*key, lsn) in seen and lsn < newest[key]
        else:
            newest[key] = lsn
            seen.add((*key, lsn))
    assert replays > 100


def test_fault_ratios_outside_zero_to_one_are_rejected() -> None:
    with pytest.raises(ValueError):
        Faults(duplicate_ratio=1.5)


# -- long runs ----------------------------------------------------------------------------------

# Flight events much more often than at the default weights, to stress delays and cancellations.
FLIGHT_HEAVY = {**KIND_WEIGHTS, "delay": 5.0, "gate_change": 2.0, "cancellation": 2.0}


def test_a_long_run_keeps_flights_moving_and_prices_plausible() -> None:
    world = tiny_world(spec=SMALL)
    fares = {key: float(row["amount"]) for key, row in world.rows["fares"].items()}
    # One step per simulated second: six hours.
    generate(world, 21_600, clock=ticking_clock(timedelta(seconds=1)), weights=FLIGHT_HEAVY)
    now, flights = NOW + timedelta(hours=6), world.rows["flights"].values()
    for flight in flights:
        first = parse_iso(world.first_departure[flight["flight_id"]])
        assert parse_iso(flight["departure_at"]) <= first + MAX_DELAY
        if flight["status"] in ("scheduled", "delayed", "boarding"):
            assert first + timedelta(hours=7) > now, flight
        assert min(flight["seats_available"].values()) >= 0
    assert sum(f["status"] == "cancelled" for f in flights) < 0.05 * len(flights)
    for key, row in world.rows["fares"].items():
        if key in fares:
            assert 0.4 <= float(row["amount"]) / fares[key] <= 2.5


def test_prices_revert_towards_their_base() -> None:
    world = tiny_world()
    fares = {key: float(row["amount"]) for key, row in world.rows["fares"].items()}
    rates = {key: float(row["amount"]) for key, row in world.rows["hotel_rates"].items()}
    items = generate(world, 20_000, weights={"fare_move": 1.0, "rate_move": 1.0})
    # Dozens of moves per price: an unbounded walk would spread far wider than this.
    assert len(items) / (len(fares) + len(rates)) > 20
    for table, start in (("fares", fares), ("hotel_rates", rates)):
        for key, row in world.rows[table].items():
            assert 0.4 <= float(row["amount"]) / start[key] <= 2.5


def test_the_generator_keeps_no_memory_of_deleted_keys() -> None:
    world = tiny_world(spec=SMALL)
    sizes = world.size()
    churn = {"new_flight": 1.0, "withdrawn_flight": 1.0, "new_rate": 1.0, "withdrawn_rate": 1.0}
    generator = ChangeGenerator(
        world,
        seed=5,
        faults=Faults(replay_ratio=0.5),
        clock=fixed_clock(),
        replay_memory=50,
        weights={**churn, "seat_sale": 1.0, "rate_move": 1.0},
    )
    for _ in itertools.islice(generator, 20_000):
        assert len(generator.superseded) <= 50
    flights = world.rows["flights"].keys()
    assert world.first_departure.keys() == world.fares_by_flight.keys() == flights
    assert {flight_id for _, flight_id in world.departures} == flights
    for table, rows in world.rows.items():
        assert world.versions[table].keys() <= rows.keys()
    for table in ("flights", "hotel_rates"):
        assert abs(len(world.rows[table]) - sizes[table]) <= 0.02 * sizes[table]


def test_flight_numbers_keep_to_four_digits() -> None:
    rng, numbers = random.Random(1), {"BA": 9990}
    for _ in range(10_000):
        assert int(next_flight_number("BA", rng, numbers).removeprefix("BA")) <= MAX_FLIGHT_NUMBER


# -- pacing -------------------------------------------------------------------------------------


def test_the_pacer_owes_records_on_an_absolute_schedule() -> None:
    pacer = Pacer(10.0, now=100.0)
    assert pacer.due(100.05) == 0
    assert pacer.due(100.35) == 3
    pacer.took(5)  # a step of several records overdraws the bucket
    assert pacer.due(100.45) == 0
    assert pacer.wait(100.45) == pytest.approx(0.15)
    assert pacer.due(100.62) == 1


def test_the_pacer_forgives_a_backlog_longer_than_a_second() -> None:
    pacer = Pacer(10.0, now=0.0)
    assert pacer.due(60.0) == 10
    pacer.took(10)
    assert pacer.due(60.0) == 0
