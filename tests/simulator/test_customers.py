"""The simulated customer systems: contract-valid, messy in the ways real ones are, and
resolving to the profiles a demo needs."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime

import pytest

from harness.worlds import apply_all, decoded
from profiles.identifiers import EMAIL, Identifier
from profiles.models import DataQualityFinding, IdentityNode
from profiles.selectors import profile_find, profile_get
from simulator.changes import Change
from simulator.customers import (
    DEMO_EMAIL,
    DEMO_MEMBER_ID,
    CustomerChanges,
    customer_snapshot,
)
from simulator.world import WorldSpec, generate_world

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SPEC = WorldSpec(days=20, routes=60, cities=6, hotels_per_city=(2, 3))


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return generate_world(SPEC, seed=3, now=NOW)


def test_every_snapshot_and_change_event_meets_the_contract(world) -> None:  # type: ignore[no-untyped-def]
    people, snapshot = customer_snapshot(world, count=300, seed=3, now=NOW)
    steps = CustomerChanges(world, people, seed=3, now=NOW).steps()
    changes = [c for step in itertools.islice(steps, 500) for c in step]
    kinds = Counter(c.kind for c in changes)
    for change in snapshot + changes:
        assert isinstance(change, Change)
        decoded(change)
    assert {"points", "new_booking", "new_customer", "email_change"} <= set(kinds)


def test_the_same_seed_gives_the_same_people(world) -> None:  # type: ignore[no-untyped-def]
    def rows(seed: int) -> str:
        _, snapshot = customer_snapshot(world, count=50, seed=seed, now=NOW)
        return json.dumps([(c.key, c.value and c.value["after"]) for c in snapshot])

    assert rows(5) == rows(5)
    assert rows(5) != rows(6)


@pytest.mark.django_db
def test_the_demo_traveller_resolves_to_one_rich_profile(world) -> None:  # type: ignore[no-untyped-def]
    _, snapshot = customer_snapshot(world, count=200, seed=3, now=NOW)
    apply_all(snapshot)
    profile_id = profile_find(identifier=Identifier(EMAIL, DEMO_EMAIL))
    assert profile_id is not None
    profile = profile_get(profile_id=profile_id, now=NOW)
    assert profile is not None and profile.loyalty is not None
    assert profile.loyalty.id == DEMO_MEMBER_ID and profile.loyalty.data["tier"] == "gold"
    assert len(profile.upcoming) >= 2 and profile.past and profile.cancelled
    assert profile.name is not None and profile.name.value == "Alex Morgan"
    assert {r.source for r in profile.records} == {"crm", "loyalty", "booking"}


@pytest.mark.django_db
def test_junk_phones_are_findings_not_merges(world) -> None:  # type: ignore[no-untyped-def]
    _, snapshot = customer_snapshot(world, count=400, seed=3, now=NOW)
    apply_all(snapshot)
    nodes = list(DataQualityFinding.objects.filter(field="phone").values_list("node_id", flat=True))
    assert len(nodes) >= 3
    # Each record is kept, in a profile of its own person: "n/a" does not join strangers.
    profiles = IdentityNode.objects.filter(node_id__in=nodes).values_list("profile_id", flat=True)
    assert len(set(profiles)) == len(nodes)
