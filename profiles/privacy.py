"""The right to be forgotten: erasure, suppressions by keyed hash, held events.

An erasure finds a person by their records and identifiers, and the users who were ever
linked to them (link history) or verified one of their emails. It deletes the records,
identifiers, those users (the Django accounts) and everything other apps keep about them
(conversations...: each app's `ERASURE_HOOK`), the outbox messages and dead letters that
carry them, and records a suppression for each identifier and each user, as keyed hashes.

Afterwards an event carrying a suppressed identifier is dropped if it happened before the
erasure (a replay must not bring the person back, even once the suppression is lifted) and
held if it happened after, until staff lift the suppression (the held events are then
applied) or discard them. Ratings and turns of an erased user are dropped whenever they
arrive. Screening and the batch's writes hold the erasure lock, shared, until the batch
commits; an erasure holds it alone: a batch never screens before an erasure and writes
after it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import msgspec
from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection, transaction
from django.db.models import Q
from django.utils.crypto import salted_hmac

from profiles.identifiers import EMAIL, Identifier, split_node_id
from profiles.identity import RESOLUTION_LOCK
from profiles.models import (
    Booking,
    CrmCustomer,
    DataQualityFinding,
    EmailVerification,
    ErasedUser,
    HeldEvent,
    IdentityNode,
    LinkHistory,
    LoyaltyMember,
    Profile,
    ProfileLink,
    Suppression,
)
from profiles.models import Identifier as IdentifierRow
from travelbot.discovery import app_offers
from travelbot.retention import dead_letters_erase, outbox_messages_erase
from travelbot.streams.envelope import ChangeEvent
from travelbot.streams.upsert import ms_to_datetime

SOURCE_MODELS: dict[str, Any] = {"crm": CrmCustomer, "loyalty": LoyaltyMember, "booking": Booking}
# Customer batches and feedback batches take it shared, erasures exclusively (see above).
ERASURE_LOCK = 7_130_002
SUPPRESSION_SALT = "travelbot.profiles.suppression"
# How the streams' contract names the user an event is about (feedback.events, chat.turns).
USER_ID_FIELD = "user_id"


@dataclass(frozen=True)
class Erasure:
    """What was erased: other apps' hooks erase what they keep about these people."""

    id: uuid.UUID
    profile_id: str
    user_ids: list[int]
    identifiers: list[Identifier]
    records: list[str]


@dataclass
class Screened:
    kept: list[ChangeEvent] = field(default_factory=list)
    held: int = 0
    dropped: int = 0


ErasureHook = Callable[[Erasure], int]


def erasure_hooks() -> list[ErasureHook]:
    """What erases the personal data other apps keep: the `ERASURE_HOOK` of their
    `privacy.py` (called in the erasure's transaction; returns how many rows it removed)."""
    return app_offers(module="privacy", attribute="ERASURE_HOOK")


def identifier_hash(identifier: Identifier) -> str:
    """What an erasure keeps of an identifier: an HMAC-SHA256 keyed with PRIVACY_HASH_KEY, so
    that nobody without the key can test a guessed email against it. Its message is the
    identifier's SHA-256 digest, which is what suppressions kept before they were keyed: the
    migration that introduced the key re-keyed them in place."""
    digest = hashlib.sha256(
        f"travelbot-suppression-v1:{identifier.kind}:{identifier.value}".encode()
    ).hexdigest()
    return salted_hmac(
        SUPPRESSION_SALT, digest, secret=settings.PRIVACY_HASH_KEY, algorithm="sha256"
    ).hexdigest()


def _user_hash(user_id: str) -> str:
    return identifier_hash(Identifier(USER_ID_FIELD, user_id))


def _erasure_lock(*, shared: bool) -> None:
    """Held until the transaction ends. Shared by batches (they do not wait for each other),
    exclusive for an erasure."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ERASURE_LOCK])


def events_screen(
    *, source: str, events: list[ChangeEvent], identified: dict[int, set[Identifier]]
) -> Screened:
    """Drop or hold events that carry an erased person's identifier. `identified` maps each
    event (by id()) to its identifiers. Takes the erasure lock (shared) for the rest of the
    caller's transaction: the batch's writes must follow the screen with no erasure between.
    One indexed query per batch while nobody was ever erased."""
    _erasure_lock(shared=True)
    screened = Screened()
    if not Suppression.objects.exists():
        screened.kept = events
        return screened
    hashes = {id(event): {identifier_hash(i) for i in identified[id(event)]} for event in events}
    wanted = set().union(*hashes.values()) if hashes else set()
    suppressions: dict[str, list[Any]] = {}
    for row in Suppression.objects.filter(value_hash__in=wanted).values(
        "value_hash", "created_at", "erasure", "lifted_at"
    ):
        suppressions.setdefault(row["value_hash"], []).append(row)
    held: list[HeldEvent] = []
    for event in events:
        matches = [row for h in hashes[id(event)] for row in suppressions.get(h, ())]
        if not matches:
            screened.kept.append(event)
            continue
        # Lifted or not, a suppression drops what happened before its erasure.
        if ms_to_datetime(event.source_ts_ms) < max(m["created_at"] for m in matches):
            screened.dropped += 1
            continue
        active = [m for m in matches if m["lifted_at"] is None]
        if active:
            held.append(_held(source, event, min(active, key=lambda m: m["created_at"])["erasure"]))
        else:
            screened.kept.append(event)
    HeldEvent.objects.bulk_create(held)
    screened.held = len(held)
    return screened


def users_erased(*, user_ids: Collection[str]) -> set[str]:
    """Which of these user ids (as the streams carry them) are erased travellers'. Takes the
    erasure lock (shared) for the rest of the caller's transaction, like `events_screen`."""
    if not user_ids:
        return set()
    _erasure_lock(shared=True)
    by_hash = {_user_hash(user_id): user_id for user_id in user_ids}
    found = ErasedUser.objects.filter(user_hash__in=list(by_hash))
    return {by_hash[user_hash] for user_hash in found.values_list("user_hash", flat=True)}


def _held(source: str, event: ChangeEvent, erasure: uuid.UUID) -> HeldEvent:
    return HeldEvent(
        erasure=erasure,
        source=source,
        record_id=event.key,
        event={
            "op": event.op,
            "row": None if event.row is None else msgspec.to_builtins(event.row),
            "lsn": event.lsn,
            "source_ts_ms": event.source_ts_ms,
            "ts_ms": event.ts_ms,
            "system": event.system,
        },
    )


def held_event_decode(held: HeldEvent, row_type: type) -> ChangeEvent:
    data = held.event
    row = None if data["row"] is None else msgspec.convert(data["row"], row_type)
    return ChangeEvent(
        key=held.record_id,
        op=data["op"],
        row=row,
        lsn=data["lsn"],
        source_ts_ms=data["source_ts_ms"],
        ts_ms=data["ts_ms"],
        system=data["system"],
    )


@transaction.atomic
def profile_erase(*, profile_id: str, by: User | AnonymousUser | None = None) -> Erasure | None:
    """Erase a person and suppress their identifiers. None if there is no such profile."""
    _erasure_lock(shared=False)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RESOLUTION_LOCK])
    nodes = list(
        IdentityNode.objects.filter(profile_id=profile_id).values_list("node_id", flat=True)
    )
    if not nodes:
        return None
    identifiers = sorted(
        {
            Identifier(kind, value)
            for kind, value in IdentifierRow.objects.filter(node_id__in=nodes).values_list(
                "kind", "value"
            )
        }
    )
    erasure = Erasure(
        id=uuid.uuid4(),
        profile_id=profile_id,
        user_ids=_users_of(identifiers),
        identifiers=identifiers,
        records=nodes,
    )
    _suppress(erasure, by=by if isinstance(by, User) else None)
    for hook in erasure_hooks():
        hook(erasure)
    users = [str(user_id) for user_id in erasure.user_ids]
    outbox_messages_erase(fields={USER_ID_FIELD: users})
    dead_letters_erase(containing=[i.value for i in identifiers], fields={USER_ID_FIELD: users})
    _forget_people(erasure)
    for node in nodes:
        source, record_id = split_node_id(node)
        SOURCE_MODELS[source].with_deleted.filter(pk=record_id).delete()
    IdentifierRow.objects.filter(node_id__in=nodes).delete()
    DataQualityFinding.objects.filter(node_id__in=nodes).delete()
    IdentityNode.objects.filter(node_id__in=nodes).delete()
    Profile.objects.filter(profile_id=profile_id).delete()
    return erasure


def _users_of(identifiers: list[Identifier]) -> list[int]:
    """Every user linked to one of the identifiers now or ever, or who verified one of its
    emails (an unconfirmed request proves nothing: anyone can type an address)."""
    linked = _any_identifier(identifiers, kind_field="kind", value_field="value")
    emails = [i.value for i in identifiers if i.kind == EMAIL]
    users = set(ProfileLink.objects.filter(linked).values_list("user_id", flat=True))
    users |= set(LinkHistory.objects.filter(linked).values_list("user_id", flat=True))
    users |= set(
        EmailVerification.objects.filter(email__in=emails, used_at__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    return sorted(users)


def _suppress(erasure: Erasure, *, by: User | None) -> None:
    Suppression.objects.bulk_create(
        Suppression(kind=i.kind, value_hash=identifier_hash(i), created_by=by, erasure=erasure.id)
        for i in erasure.identifiers
    )
    ErasedUser.objects.bulk_create(
        (ErasedUser(user_hash=_user_hash(str(u)), erasure=erasure.id) for u in erasure.user_ids),
        ignore_conflicts=True,
    )


def _forget_people(erasure: Erasure) -> None:
    """The links, link history and email verifications naming the person, and their users
    (whatever of theirs the hooks left goes with them, by cascade)."""
    linked = _any_identifier(erasure.identifiers, kind_field="kind", value_field="value")
    ProfileLink.objects.filter(linked).delete()
    LinkHistory.objects.filter(linked).delete()
    emails = [i.value for i in erasure.identifiers if i.kind == EMAIL]
    EmailVerification.objects.filter(email__in=emails).delete()
    User.objects.filter(pk__in=erasure.user_ids).delete()


def _any_identifier(identifiers: list[Identifier], *, kind_field: str, value_field: str) -> Q:
    query = Q(pk__in=[])
    for identifier in identifiers:
        query |= Q(**{kind_field: identifier.kind, value_field: identifier.value})
    return query
