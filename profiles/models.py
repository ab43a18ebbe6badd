"""The unified traveller profile.

Three mirrors of the customer sources (CRM, loyalty, bookings) feed an identity graph: every
source record is a node and its normalised identifiers (email, phone, customer id, member id,
booking reference) are the edges' reasons. The connected components of that graph are only
the unit of re-resolution; within one, the contract's identity rules (profiles/rules.py)
decide the people, and a person is a profile. A profile's id is its anchor record's node id
(the first by source, then id), so it stays the same across unrelated changes and whatever
order the events arrived in.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Now

from travelbot.streams.mirror import Versioned


class CrmCustomer(Versioned):
    customer_id = models.CharField(max_length=64, primary_key=True)
    email = models.CharField(max_length=320, null=True)
    phone = models.CharField(max_length=64, null=True)
    first_name = models.CharField(max_length=100, null=True)
    last_name = models.CharField(max_length=100, null=True)
    home_airport = models.CharField(max_length=3, null=True)
    preferences = models.JSONField(null=True)
    marketing_opt_in = models.BooleanField(null=True)


class LoyaltyMember(Versioned):
    member_id = models.CharField(max_length=64, primary_key=True)
    email = models.CharField(max_length=320, null=True)
    phone = models.CharField(max_length=64, null=True)
    tier = models.CharField(max_length=10, null=True)
    points = models.BigIntegerField(null=True)


class Booking(Versioned):
    booking_ref = models.CharField(max_length=16, primary_key=True)
    email = models.CharField(max_length=320, null=True)
    phone = models.CharField(max_length=64, null=True)
    customer_id = models.CharField(max_length=64, null=True)
    member_id = models.CharField(max_length=64, null=True)
    status = models.CharField(max_length=10, null=True)
    items = models.JSONField(null=True)
    total = models.DecimalField(max_digits=16, decimal_places=4, null=True)
    currency = models.CharField(max_length=3, null=True)
    created_at = models.DateTimeField(null=True)


class IdentityNode(models.Model):
    """One live source record in the identity graph, and the profile it belongs to."""

    node_id = models.CharField(max_length=80, primary_key=True)  # "crm:C-1001"
    source = models.CharField(max_length=10)
    record_id = models.CharField(max_length=64)
    profile_id = models.CharField(max_length=80, db_index=True)
    # The connected component it is in: what a change must re-resolve together.
    component_id = models.CharField(max_length=80, db_index=True, default="")
    joined_by = models.CharField(max_length=400, default="")  # the rule, for staff; "" = anchor
    changed_at = models.DateTimeField()  # the record's as_of

    def __str__(self) -> str:
        return f"{self.node_id} in {self.profile_id}"


class Identifier(models.Model):
    """A normalised identifier of a node: records sharing one may be the same person."""

    # No index of its own: the unique (node_id, kind, value) index leads with it.
    node_id = models.CharField(max_length=80)
    kind = models.CharField(max_length=16)
    value = models.CharField(max_length=320)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["node_id", "kind", "value"], name="identifier_once")
        ]
        indexes = [models.Index(fields=["kind", "value"], name="identifier_lookup")]

    def __str__(self) -> str:
        return f"{self.node_id}: {self.kind} {self.value}"


class Profile(models.Model):
    profile_id = models.CharField(max_length=80, primary_key=True)
    records = models.PositiveIntegerField()
    updated_at = models.DateTimeField()  # when its membership or one of its records changed

    def __str__(self) -> str:
        return f"{self.profile_id} ({self.records} records)"


class DataQualityFinding(models.Model):
    """A value kept on its record but not used to match, with the reason, for staff: unusable
    (`refused` false), or an edge the identity rules refused (`refused` true)."""

    node_id = models.CharField(max_length=80, db_index=True)
    refused = models.BooleanField(default=False)
    field = models.CharField(max_length=32)
    value = models.CharField(max_length=320)
    problem = models.CharField(max_length=200)
    found_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.node_id} {self.field}={self.value!r}: {self.problem}"


class ProfileLink(models.Model):
    """A signed-in traveller's claim to a profile, through an identifier they proved is theirs.

    The link names the identifier, not the profile: profiles merge and split as records
    change, and the traveller's profile is whichever one holds that identifier now.
    """

    class Method(models.TextChoices):
        EMAIL = "email", "verified email"
        LOYALTY = "loyalty", "loyalty number and booking reference"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile_link"
    )
    kind = models.CharField(max_length=16)
    value = models.CharField(max_length=320)
    method = models.CharField(max_length=10, choices=Method.choices)
    linked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id} -> {self.kind} {self.value}"


class LinkHistory(models.Model):
    """Every identifier a user was ever linked through, kept after the link is replaced or
    removed, so that erasing the person finds the user (and what they said) all the same.

    Written by a database trigger on ProfileLink (migration
    0003_link_history_and_keyed_suppressions), not by the linking code: no way of linking,
    relinking or unlinking, present or future, can forget to record it.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16)
    value = models.CharField(max_length=320)
    method = models.CharField(max_length=10, choices=ProfileLink.Method.choices)
    first_linked_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "value"], name="link_history_once")
        ]
        indexes = [models.Index(fields=["kind", "value"], name="link_history_lookup")]

    def __str__(self) -> str:
        return f"{self.user_id} was linked to {self.kind} {self.value}"


class EmailVerification(models.Model):
    """One emailed link: signed, expiring, usable once. With a member id, it was sent to that
    loyalty member's own email and links the member; otherwise it links `email`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    email = models.CharField(max_length=320)
    member_id = models.CharField(max_length=64, null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.email} for {self.user_id}"


class Suppression(models.Model):
    """An erased person's identifier, kept only as a keyed hash, so replays cannot bring them
    back. A lifted one still drops events from before its erasure."""

    kind = models.CharField(max_length=16)
    value_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    lifted_at = models.DateTimeField(null=True)
    lifted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    erasure = models.UUIDField(db_index=True)  # the erasure it came from, to lift together

    class Meta:
        # Lifted suppressions are screened too (they drop what happened before the erasure).
        indexes = [models.Index(fields=["value_hash"], name="suppression_lookup")]

    def __str__(self) -> str:
        return f"{self.kind} {self.value_hash[:12]}… ({'lifted' if self.lifted_at else 'active'})"


class ErasedUser(models.Model):
    """An erased traveller's deleted account, kept only as a keyed hash of its id: their
    ratings and turns still in flight on the streams are dropped when they arrive. Never
    lifted: lifting a suppression lets the person's records back, not the account."""

    user_hash = models.CharField(max_length=64, unique=True)
    erasure = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"erased user {self.user_hash[:12]}…"


class HeldEvent(models.Model):
    """A change newer than an erasure, for an erased identifier: kept until staff decide."""

    erasure = models.UUIDField(db_index=True)
    source = models.CharField(max_length=10)
    record_id = models.CharField(max_length=64)
    event = models.JSONField()  # op, row, lsn, source_ts_ms, ts_ms, system
    held_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"held {self.source}:{self.record_id}"
