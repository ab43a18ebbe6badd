"""Identity resolution: the profiles are the connected components of the identity graph.

Each batch of a customer stream replaces the identifiers of the records it changed, then
recomputes only the components those records belonged to or now touch: the nodes reachable
from them through shared identifiers. The result depends only on the records as they are
now (the version guard keeps each at its latest event), so never on the order events came
in; a profile's id is its anchor, the first of its records by source and id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from django.db import connection
from django.utils import timezone
from psycopg.rows import class_row

from profiles.identifiers import (
    KEY_KIND,
    SOURCE_RANK,
    Finding,
    Identifier,
    node_id,
    record_identifiers,
    split_node_id,
)
from travelbot.sql import fetch_all
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.upsert import ms_to_datetime

# Identity resolution of the three customer streams is serialised: two batches recomputing
# overlapping components at once would each see the other's records half-changed.
RESOLUTION_LOCK = 7_130_001


@dataclass(frozen=True)
class NodeChange:
    node: str
    source: str
    record_id: str
    identifiers: set[Identifier]
    findings: list[Finding]
    changed_ms: int
    deleted: bool


def identify(source: str, events: Iterable[ChangeEvent]) -> dict[int, NodeChange]:
    """Each event's node, normalised identifiers and findings, by id() of the event: computed
    once per batch and shared by the erasure screen and the resolution."""
    changes = {}
    for event in events:
        if event.is_delete:
            identifiers = {Identifier(KEY_KIND[source], event.key)}
            findings: list[Finding] = []
        else:
            identifiers, findings = record_identifiers(source, event.key, event.row)
        changes[id(event)] = NodeChange(
            node=node_id(source, event.key),
            source=source,
            record_id=event.key,
            identifiers=identifiers,
            findings=findings,
            changed_ms=event.source_ts_ms,
            deleted=event.is_delete,
        )
    return changes


def identities_resolve(*, changes: list[NodeChange]) -> set[str]:
    """Store the changed nodes' identifiers and re-resolve their components (in the caller's
    transaction). Returns the ids of the profiles that now exist among them."""
    if not changes:
        return set()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESOLUTION_LOCK])
    existing = _memberships([change.node for change in changes])
    old_profiles = set(existing.values())
    _replace_identifiers(changes, existing=set(existing))
    seeds = {c.node for c in changes if not c.deleted} | _members_of(old_profiles)
    groups = _reach(seeds)
    anchors = _components(seeds, groups)
    current = _memberships(list(anchors))  # new nodes stand in their own profile for now
    # Every profile a reached node belonged to may vanish (merged), not only the changed ones'.
    previous = old_profiles | set(current.values())
    _store_membership({node: a for node, a in anchors.items() if current.get(node) != a})
    return _store_profiles(anchors, previous)


@dataclass(frozen=True)
class _Membership:
    node_id: str
    profile_id: str


@dataclass(frozen=True)
class _NodeIdentifier:
    node_id: str
    kind: str
    value: str


def _memberships(nodes: list[str]) -> dict[str, str]:
    """node -> profile, for those of `nodes` that exist."""
    sql = "SELECT node_id, profile_id FROM profiles_identitynode WHERE node_id = ANY(%s)"
    return {
        row.node_id: row.profile_id for row in fetch_all(sql, [nodes], row=class_row(_Membership))
    }


def _members_of(profiles: set[str]) -> set[str]:
    if not profiles:
        return set()
    sql = "SELECT node_id, profile_id FROM profiles_identitynode WHERE profile_id = ANY(%s)"
    return {row.node_id for row in fetch_all(sql, [list(profiles)], row=class_row(_Membership))}


def _replace_identifiers(changes: list[NodeChange], *, existing: set[str]) -> None:
    """Identifiers, findings and nodes of the changed records; what new records never had is
    not looked for (a snapshot is mostly new records)."""
    nodes = [change.node for change in changes if change.node in existing]
    live = [change for change in changes if not change.deleted]  # a deleted node has none
    now = timezone.now()
    identifiers = [
        {"node_id": c.node, "kind": i.kind, "value": i.value} for c in live for i in c.identifiers
    ]
    findings = [
        {"node_id": c.node, "field": f.field, "value": f.value[:320], "problem": f.problem}
        for c in live
        for f in c.findings
    ]
    rows = [
        {
            "node_id": c.node,
            "source": c.source,
            "record_id": c.record_id,
            "changed_at": ms_to_datetime(c.changed_ms).isoformat(),
        }
        for c in live
    ]
    with connection.cursor() as cursor:
        if nodes:
            cursor.execute("DELETE FROM profiles_identifier WHERE node_id = ANY(%s)", [nodes])
            cursor.execute(
                "DELETE FROM profiles_dataqualityfinding WHERE node_id = ANY(%s)", [nodes]
            )
            cursor.execute(
                "DELETE FROM profiles_identitynode WHERE node_id = ANY(%s)",
                [[c.node for c in changes if c.deleted and c.node in existing]],
            )
        cursor.execute(
            "INSERT INTO profiles_identifier (node_id, kind, value) SELECT * FROM "
            "json_to_recordset(%s::json) AS u(node_id text, kind text, value text)",
            [_json(identifiers)],
        )
        cursor.execute(
            "INSERT INTO profiles_dataqualityfinding (node_id, field, value, problem, found_at) "
            "SELECT u.*, %s FROM json_to_recordset(%s::json) "
            "AS u(node_id text, field text, value text, problem text)",
            [now, _json(findings)],
        )
        cursor.execute(
            "INSERT INTO profiles_identitynode (node_id, source, record_id, profile_id, "
            "changed_at) SELECT node_id, source, record_id, node_id, changed_at FROM "
            "json_to_recordset(%s::json) AS u(node_id text, source text, record_id text, "
            "changed_at timestamptz) ON CONFLICT (node_id) DO UPDATE SET "
            "changed_at = excluded.changed_at",
            [_json(rows)],
        )


# For each node of the frontier its identifiers, and for each of those the nodes holding it.
# Each lookup is a LATERAL subquery fenced by OFFSET 0, so the planner cannot join the table to
# itself: the work is one index probe per frontier node and per identifier (or a scan, while
# the table is a few pages), whatever the statistics say. They can say the table is empty: an
# ANALYZE that runs while a bulk load is uncommitted counts none of its rows, and a semi-join
# of the table with itself then rescanned it for every row (a snapshot of 400 people took
# over five minutes).
_SHARERS = """
    SELECT o.node_id, o.kind, o.value
    FROM unnest(%s::text[]) AS f(node_id)
    CROSS JOIN LATERAL (
        SELECT kind, value FROM profiles_identifier WHERE node_id = f.node_id OFFSET 0
    ) AS m
    CROSS JOIN LATERAL (
        SELECT node_id, kind, value FROM profiles_identifier
        WHERE kind = m.kind AND value = m.value
        OFFSET 0
    ) AS o
"""


def _reach(seeds: set[str]) -> dict[tuple[str, str], set[str]]:
    """Every identifier group (kind, value) -> nodes, over the nodes reachable from `seeds`.

    Breadth first, one query per level: components are a few levels deep.
    """
    groups: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen, frontier = set(seeds), list(seeds)
    while frontier:
        sharers = fetch_all(_SHARERS, [frontier], row=class_row(_NodeIdentifier))
        frontier = []
        for row in sharers:
            groups[(row.kind, row.value)].add(row.node_id)
            if row.node_id not in seen:
                seen.add(row.node_id)
                frontier.append(row.node_id)
    return groups


def _components(seeds: set[str], groups: dict[tuple[str, str], set[str]]) -> dict[str, str]:
    """node -> its component's anchor, for every node reached (union-find)."""
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for node in seeds:
        find(node)
    for group in groups.values():
        first, *others = group
        for other in others:
            parent[find(other)] = find(first)
    by_root: dict[str, list[str]] = defaultdict(list)
    for node in list(parent):
        by_root[find(node)].append(node)
    anchors: dict[str, str] = {}
    for members in by_root.values():
        anchors.update(dict.fromkeys(members, min(members, key=anchor_order)))
    return anchors


def anchor_order(node: str) -> tuple[int, str]:
    source, record_id = split_node_id(node)
    return SOURCE_RANK[source], record_id


def _store_membership(moved: dict[str, str]) -> None:
    if not moved:
        return
    rows = [{"node_id": node, "profile_id": anchor} for node, anchor in moved.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_identitynode n SET profile_id = u.profile_id FROM "
            "json_to_recordset(%s::json) AS u(node_id text, profile_id text) "
            "WHERE n.node_id = u.node_id AND n.profile_id <> u.profile_id",
            [_json(rows)],
        )


def _store_profiles(anchors: dict[str, str], old_profiles: set[str]) -> set[str]:
    sizes: dict[str, int] = defaultdict(int)
    for anchor in anchors.values():
        sizes[anchor] += 1
    rows = [{"profile_id": anchor, "records": size} for anchor, size in sizes.items()]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO profiles_profile (profile_id, records, updated_at) "
            "SELECT profile_id, records, clock_timestamp() FROM json_to_recordset(%s::json) "
            "AS u(profile_id text, records int) ON CONFLICT (profile_id) DO UPDATE SET "
            "records = excluded.records, updated_at = excluded.updated_at",
            [_json(rows)],
        )
        cursor.execute(
            "DELETE FROM profiles_profile WHERE profile_id = ANY(%s)",
            [sorted(old_profiles - set(sizes))],
        )
    return set(sizes)


def _json(rows: Sequence[Mapping[str, Any]]) -> str:
    return msgspec.json.encode(rows).decode()
