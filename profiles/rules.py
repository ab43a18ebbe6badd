"""The identity rules of the stream contract (since 2026-12-03), as a pure function.

Given the live records of one connected part of the identity graph (every record that shares
any identifier, however weak, with another), it says which person each record belongs to,
which rule put it there, and which edges it refused. It reads nothing and writes nothing, so
the result depends only on the records as they are now, never on arrival order.

The rules, precisely:

1. An *account* is a CRM customer or a loyalty member. A person is the accounts that share
   one own account email (a strong identifier): a customer, a duplicate registration of the
   same address, the loyalty membership. That shared email is the only proof that two
   accounts are one person: their keys are unique per system, and a phone, a booking's
   contact email or a booking naming both accounts proves nothing (a booking can carry
   anybody's loyalty number). An own email held by more than MAX_ACCOUNTS accounts is a hub:
   it joins nothing and each of its accounts is a person alone (a finding for staff).
2. A booking belongs to the account it names (strong): its `customer_id` if it has one, else
   its `member_id`. A named account that has no record yet stands for a person of its own,
   made of the bookings that name it. A booking never joins two accounts: when its
   `member_id` names another person than its `customer_id`, that edge is refused.
3. A guest booking (naming no account) attaches through its contact email (weak) to the one
   person whose own account email it is; when the email matches no account, through its
   phone to the one person whose accounts have that phone. Matching two or more people, or
   a value held by more than HUB_SIZE records, attaches nothing: a finding, not a merge.
4. A person's profile id is its first record by source (CRM, loyalty, booking) then id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from profiles.identifiers import (
    ACCOUNTS,
    BOOKING,
    CUSTOMER_ID,
    EMAIL,
    KEY_KIND,
    MEMBER_ID,
    PHONE,
    SOURCE_RANK,
    Finding,
    Identifier,
    split_node_id,
)

MAX_ACCOUNTS = 3  # accounts one own email may join: customer, a duplicate, the membership
HUB_SIZE = 10  # records one weak value may be shared by before it is a hub, not a person


@dataclass
class Resolution:
    """node -> profile id, node -> why it joined (the anchor has no line), refused edges."""

    profile: dict[str, str] = field(default_factory=dict)
    joined_by: dict[str, str] = field(default_factory=dict)
    refused: dict[str, list[Finding]] = field(default_factory=lambda: defaultdict(list))


def anchor_order(node: str) -> tuple[int, str]:
    source, record_id = split_node_id(node)
    return SOURCE_RANK[source], record_id


def label(node: str) -> str:
    source, record_id = split_node_id(node)
    return f"{source} {record_id}"


def resolve(nodes: Mapping[str, set[Identifier]]) -> Resolution:
    """Apply the rules to live records (node -> its identifiers, own key included)."""
    holders: dict[Identifier, list[str]] = defaultdict(list)
    for node in sorted(nodes, key=anchor_order):
        for identifier in nodes[node]:
            holders[identifier].append(node)
    resolution = Resolution()
    person = _accounts_resolve(nodes, holders, resolution)
    members: dict[str, list[str]] = defaultdict(list)
    for node in sorted(nodes, key=anchor_order):
        if split_node_id(node)[0] == BOOKING:
            owner = _booking_owner(node, nodes[node], holders, person, resolution)
            person[node] = owner
        members[person[node]].append(node)
    for group in members.values():
        anchor = min(group, key=anchor_order)
        resolution.profile.update(dict.fromkeys(group, anchor))
    _finish_absent_lines(resolution)
    return resolution


def _finish_absent_lines(resolution: Resolution) -> None:
    for node, line in list(resolution.joined_by.items()):
        if not line.startswith("via "):
            continue
        anchor = resolution.profile[node]
        if anchor == node:
            del resolution.joined_by[node]
        else:
            resolution.joined_by[node] = (
                f"{label(node)} joined {line} to {label(anchor)}: both name that account, "
                "which has no record yet (strong)"
            )


def _is_account(node: str) -> bool:
    return split_node_id(node)[0] in ACCOUNTS


def _own_email(identifiers: set[Identifier]) -> Identifier | None:
    return next((i for i in identifiers if i.kind == EMAIL), None)


def _accounts_resolve(
    nodes: Mapping[str, set[Identifier]],
    holders: dict[Identifier, list[str]],
    resolution: Resolution,
) -> dict[str, str]:
    """Rule 1: account -> its person's key (the first account of its own email)."""
    person: dict[str, str] = {}
    for node in (n for n in nodes if _is_account(n)):
        email = _own_email(nodes[node])
        sharing = [] if email is None else [n for n in holders[email] if _is_account(n)]
        if len(sharing) > MAX_ACCOUNTS:
            assert email is not None
            problem = f"own email of {len(sharing)} accounts: a hub, not used to join them"
            resolution.refused[node].append(Finding(EMAIL, email.value, problem))
            sharing = []
        person[node] = sharing[0] if sharing else node
        if person[node] != node:
            resolution.joined_by[node] = (
                f"{label(node)} joined via {email} to {label(person[node])}: "
                "the same own account email (strong)"
            )
    return person


def _booking_owner(
    node: str,
    identifiers: set[Identifier],
    holders: dict[Identifier, list[str]],
    person: dict[str, str],
    resolution: Resolution,
) -> str:
    """Rules 2 and 3: the person key a booking belongs to (itself when it attaches to none)."""
    named = sorted(i for i in identifiers if i.kind in (CUSTOMER_ID, MEMBER_ID))
    if not named:
        return _guest_owner(node, identifiers, holders, person, resolution)
    by_kind = {i.kind: i for i in named}
    chosen = by_kind.get(CUSTOMER_ID) or by_kind[MEMBER_ID]
    owner, via = _named_person(chosen, holders, person)
    member = by_kind.get(MEMBER_ID)
    if member not in (None, chosen) and _named_person(member, holders, person)[0] != owner:
        assert member is not None
        problem = f"names a loyalty member of another person than customer {chosen.value}"
        resolution.refused[node].append(Finding(MEMBER_ID, member.value, problem))
    _refuse_foreign_contact(node, identifiers, holders, person, owner, resolution)
    if via is None:  # the named account has no record (yet): the bookings naming it are one
        resolution.joined_by[node] = f"via {chosen}"  # finished once its anchor is known
    else:
        resolution.joined_by[node] = (
            f"{label(node)} joined via {chosen} to {label(via)}: the booking's own account (strong)"
        )
    return owner


def _named_person(
    named: Identifier, holders: dict[Identifier, list[str]], person: dict[str, str]
) -> tuple[str, str | None]:
    """The person of the account a booking names, and that account's node (None if absent)."""
    source = next(s for s, kind in KEY_KIND.items() if kind == named.kind)
    account = f"{source}:{named.value}"
    if account in holders[named]:
        return person[account], account
    return f"absent:{named.kind}:{named.value}", None


def _refuse_foreign_contact(
    node: str,
    identifiers: set[Identifier],
    holders: dict[Identifier, list[str]],
    person: dict[str, str],
    owner: str,
    resolution: Resolution,
) -> None:
    """A contact email that is another person's own account email is reported, never used."""
    email = _own_email(identifiers)
    if email is None:
        return
    others = {person[n] for n in holders[email] if _is_account(n)} - {owner}
    if others:
        problem = "the own email of another person's account: not used, the booking names its own"
        resolution.refused[node].append(Finding(EMAIL, email.value, problem))


def _guest_owner(
    node: str,
    identifiers: set[Identifier],
    holders: dict[Identifier, list[str]],
    person: dict[str, str],
    resolution: Resolution,
) -> str:
    for kind, what in ((EMAIL, "contact email"), (PHONE, "phone")):
        identifier = next((i for i in identifiers if i.kind == kind), None)
        if identifier is None:
            continue
        holding = holders[identifier]
        if len(holding) > HUB_SIZE:
            problem = f"on {len(holding)} records: a hub, not used to match"
            resolution.refused[node].append(Finding(kind, identifier.value, problem))
            continue
        accounts = [n for n in holding if _is_account(n)]
        people = sorted({person[n] for n in accounts})
        if len(people) == 1:
            account = accounts[0]
            resolution.joined_by[node] = (
                f"{label(node)} joined via {identifier} to {label(account)}: a guest booking's "
                f"{what} (weak), held by one person only"
            )
            return people[0]
        if len(people) > 1:
            problem = f"matches {len(people)} people: not used to attach this guest booking"
            resolution.refused[node].append(Finding(kind, identifier.value, problem))
            return node
    return node
