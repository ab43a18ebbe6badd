"""Identity resolution: the contract's identity rules over the identity graph's components.

Each batch of a customer stream replaces the identifiers of the records it changed, then
re-resolves only the connected components those records belonged to or now touch: the nodes
reachable from them through shared identifiers, weak ones included, since every rule looks
only at records sharing an identifier. Within them the rules (profiles/rules.py) decide the
people. The result depends only on the records as they are now (the version guard keeps each
at its latest event), so never on the order events came in.

The SQL reads by index whatever the table statistics say: the node and identifier lists are
`unnest`ed arrays joined to the unique (node_id, kind, value) and (kind, value) indexes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from django.db import connection
from django.utils import timezone
from psycopg.rows import class_row, scalar_row

from profiles.identifiers import (
    KEY_KIND,
    Finding,
    Identifier,
    node_id,
    record_identifiers,
)
from profiles.rules import Resolution, anchor_order, resolve
from travelbot.sql import fetch_all
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.upsert import ms_to_datetime

# Identity resolution of the three customer streams is serialised: two batches recomputing
# overlapping components at once would each see the other's records half-changed.
RESOLUTION_LOCK = 7_130_001
# Every identifier row sharing a (kind, value) with the given nodes' identifiers.
# For each node of the frontier its identifiers, and for each distinct one the nodes holding
# it. Each lookup is a LATERAL subquery fenced by OFFSET 0, so the planner cannot join the
# table to itself: the work is one index probe per frontier node and per distinct identifier
# (or a scan, while the table is a few pages), whatever the statistics say. They can say the
# table is empty: an ANALYZE that runs while a bulk load is uncommitted counts none of its
# rows, and a semi-join of the table with itself then rescanned it for every row (a snapshot
# of 400 people took over five minutes). DISTINCT keeps a hub linear: 200 frontier nodes
# sharing one phone look its holders up once, not 200 times.
REACH_SQL = """
    SELECT o.node_id, o.kind, o.value
    FROM (
        SELECT DISTINCT m.kind, m.value
        FROM unnest(%s::text[]) AS f(node_id)
        CROSS JOIN LATERAL (
            SELECT kind, value FROM profiles_identifier WHERE node_id = f.node_id OFFSET 0
        ) AS m
    ) AS g
    CROSS JOIN LATERAL (
        SELECT node_id, kind, value FROM profiles_identifier
        WHERE kind = g.kind AND value = g.value
        OFFSET 0
    ) AS o
"""


@dataclass(frozen=True)
class _Holder:
    node_id: str
    kind: str
    value: str


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
    _replace_identifiers(changes, existing=set(existing))
    old_components = {component for _, component, _ in existing.values()}
    seeds = {c.node for c in changes if not c.deleted} | _members_of(old_components)
    changed = {c.node for c in changes if not c.deleted}
    return _re_resolve(seeds, previous={p for p, _, _ in existing.values()}, changed=changed)


def identities_resolve_all() -> int:
    """Re-resolve every stored record, as after a change of the identity rules (in the
    caller's transaction). Returns how many profiles there are."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESOLUTION_LOCK])
    seeds = set(fetch_all("SELECT node_id FROM profiles_identitynode", row=scalar_row))
    return len(_re_resolve(seeds, previous=set(), changed=seeds))


def _re_resolve(seeds: set[str], *, previous: set[str], changed: set[str]) -> set[str]:
    """Resolve the components of `seeds` afresh and store what changed."""
    held = _reach(seeds)
    components = _components(held)
    resolution = resolve(held)
    current = _memberships(list(held))  # new nodes stand in their own profile for now
    moved = {
        node: row
        for node in held
        if current.get(node)
        != (row := (resolution.profile[node], components[node], _joined_by(resolution, node)))
    }
    _store_membership(moved)
    _store_refusals(list(held), resolution)
    # Only profiles that gained, lost or changed a record are written (and dated).
    touched = set(previous)  # the changed records' profiles before: one may have lost a record
    touched |= {resolution.profile[n] for n in (changed | set(moved)) & set(held)}
    touched |= {current[n][0] for n in moved if n in current}
    # Every profile a reached node belonged to may vanish (merged), not only the changed ones'.
    previous = previous | {p for p, _, _ in current.values()}
    return _store_profiles(resolution.profile, previous, touched=touched)


def _joined_by(resolution: Resolution, node: str) -> str:
    return resolution.joined_by.get(node, "")[:400]


@dataclass(frozen=True)
class _Membership:
    node_id: str
    profile_id: str
    component_id: str
    joined_by: str


def _memberships(nodes: list[str]) -> dict[str, tuple[str, str, str]]:
    """node -> (profile, component, joined_by), for those of `nodes` that exist."""
    sql = (
        "SELECT n.node_id, n.profile_id, n.component_id, n.joined_by "
        "FROM unnest(%s::text[]) AS w(node_id) "
        "JOIN profiles_identitynode n ON n.node_id = w.node_id"
    )
    return {
        row.node_id: (row.profile_id, row.component_id, row.joined_by)
        for row in fetch_all(sql, [nodes], row=class_row(_Membership))
    }


def _members_of(components: set[str]) -> set[str]:
    if not components:
        return set()
    sql = (
        "SELECT n.node_id FROM unnest(%s::text[]) AS w(component_id) "
        "JOIN profiles_identitynode n ON n.component_id = w.component_id"
    )
    return set(fetch_all(sql, [sorted(components)], row=scalar_row))


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
        _insert_findings(cursor, findings, refused=False, now=now)
        cursor.execute(
            "INSERT INTO profiles_identitynode (node_id, source, record_id, profile_id, "
            "component_id, joined_by, changed_at) SELECT node_id, source, record_id, node_id, "
            "node_id, '', changed_at FROM json_to_recordset(%s::json) AS u(node_id text, "
            "source text, record_id text, changed_at timestamptz) ON CONFLICT (node_id) DO "
            "UPDATE SET changed_at = excluded.changed_at",
            [_json(rows)],
        )


def _insert_findings(
    cursor: Any, findings: list[dict[str, str]], *, refused: bool, now: Any
) -> None:
    if findings:
        cursor.execute(
            "INSERT INTO profiles_dataqualityfinding (node_id, refused, field, value, problem, "
            "found_at) SELECT u.node_id, %s, u.field, u.value, u.problem, %s FROM "
            "json_to_recordset(%s::json) AS u(node_id text, field text, value text, problem text)",
            [refused, now, _json(findings)],
        )


def _reach(seeds: set[str]) -> dict[str, set[Identifier]]:
    """Every node reachable from `seeds` through shared identifiers, with all its identifiers.

    Breadth first, one indexed lookup per level (components are a few levels deep): the
    frontier's identifiers by the unique (node_id, kind, value) index, then their holders by
    the (kind, value) index. A node's own rows come back when it is on the frontier.
    """
    held: dict[str, set[Identifier]] = defaultdict(set)
    seen, frontier = set(seeds), sorted(seeds)
    while frontier:
        holders = fetch_all(REACH_SQL, [frontier], row=class_row(_Holder))
        frontier = []
        for row in holders:
            node = row.node_id
            held[node].add(Identifier(row.kind, row.value))
            if node not in seen:
                seen.add(node)
                frontier.append(node)
    return held


def _components(held: dict[str, set[Identifier]]) -> dict[str, str]:
    """node -> its connected component's anchor, over every shared identifier (union-find)."""
    parent: dict[str, str] = {node: node for node in held}

    def find(node: str) -> str:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    first_holder: dict[Identifier, str] = {}
    for node, identifiers in held.items():
        for identifier in identifiers:
            other = first_holder.setdefault(identifier, node)
            parent[find(node)] = find(other)
    members: dict[str, list[str]] = defaultdict(list)
    for node in held:
        members[find(node)].append(node)
    return {node: min(group, key=anchor_order) for group in members.values() for node in group}


def _store_membership(moved: dict[str, tuple[str, str, str]]) -> None:
    if not moved:
        return
    rows = [
        {"node_id": node, "profile_id": profile, "component_id": component, "joined_by": why}
        for node, (profile, component, why) in moved.items()
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE profiles_identitynode n SET profile_id = u.profile_id, "
            "component_id = u.component_id, joined_by = u.joined_by FROM "
            "json_to_recordset(%s::json) AS u(node_id text, profile_id text, component_id text, "
            "joined_by text) WHERE n.node_id = u.node_id",
            [_json(rows)],
        )


def _store_refusals(nodes: list[str], resolution: Resolution) -> None:
    """The edges the rules refused, as findings: replaced for every re-resolved node."""
    findings = [
        {"node_id": node, "field": f.field, "value": f.value[:320], "problem": f.problem}
        for node, refused in resolution.refused.items()
        for f in refused
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM profiles_dataqualityfinding d USING unnest(%s::text[]) AS w(node_id) "
            "WHERE d.node_id = w.node_id AND d.refused",
            [nodes],
        )
        _insert_findings(cursor, findings, refused=True, now=timezone.now())


def _store_profiles(
    anchors: dict[str, str], old_profiles: set[str], *, touched: set[str]
) -> set[str]:
    sizes: dict[str, int] = defaultdict(int)
    for anchor in anchors.values():
        sizes[anchor] += 1
    rows = [
        {"profile_id": anchor, "records": size}
        for anchor, size in sizes.items()
        if anchor in touched
    ]
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
