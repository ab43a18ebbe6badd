"""Writes of the unified profile that people start: linking a traveller, erasure, lifting."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core import signing
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from profiles.identifiers import (
    BOOKING,
    EMAIL,
    LOYALTY,
    MEMBER_ID,
    node_id,
    normalize_email,
)
from profiles.models import EmailVerification, HeldEvent, IdentityNode, ProfileLink, Suppression
from profiles.streams import held_events_apply

SIGNING_SALT = "profiles.email-link"
LINK_ATTEMPTS = 5  # failed loyalty links per user per hour
DEMO_EMAIL = "demo@example.com"


class LinkError(Exception):
    """Why a link could not be made; the message is for the traveller."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SIGNING_SALT)


def email_verification_send(*, user: User, email: str, confirm_url: str) -> str:
    """Email a signed, expiring, single-use link proving `email` is the traveller's.

    `confirm_url` has a `{token}` placeholder. Returns the normalised email.
    """
    normalized = normalize_email(email)
    if normalized is None:
        raise LinkError("That does not look like an email address.")
    verification = EmailVerification.objects.create(user=user, email=normalized)
    token = _signer().sign(str(verification.id))
    hours = settings.PROFILE_LINK_MAX_AGE_S // 3600
    send_mail(
        subject="Confirm your email for travelbot",
        message=(
            "Open this link to let travelbot connect your bookings and loyalty account "
            f"to your sign-in:\n\n{confirm_url.format(token=token)}\n\n"
            f"It works once, for {hours} hours. If you did not ask for it, ignore this email."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[normalized],
    )
    return normalized


@transaction.atomic
def email_verification_confirm(*, user: User, token: str) -> ProfileLink:
    try:
        raw_id = _signer().unsign(token, max_age=settings.PROFILE_LINK_MAX_AGE_S)
        verification_id = uuid.UUID(raw_id)
    except signing.SignatureExpired:
        raise LinkError("This link has expired: ask for a new one.") from None
    except (signing.BadSignature, ValueError):
        raise LinkError("This link is not valid.") from None
    verification = (
        EmailVerification.objects.select_for_update().filter(pk=verification_id, user=user).first()
    )
    if verification is None:
        raise LinkError("This link is not valid.")
    if verification.used_at is not None:
        raise LinkError("This link has been used already.")
    verification.used_at = timezone.now()
    verification.save(update_fields=["used_at"])
    return _link(user, kind=EMAIL, value=verification.email, method=ProfileLink.Method.EMAIL)


def profile_link_by_loyalty(*, user: User, member_id: str, booking_ref: str) -> ProfileLink:
    """Link through a loyalty number and one booking reference of the same profile."""
    attempts_key = f"profiles:link-attempts:{user.pk}"
    if cache.get(attempts_key, 0) >= LINK_ATTEMPTS:
        raise LinkError("Too many attempts. Try again in an hour, or link by email.")
    member, booking = member_id.strip(), booking_ref.strip().upper()
    profiles = dict(
        IdentityNode.objects.filter(
            node_id__in=[node_id(LOYALTY, member), node_id(BOOKING, booking)]
        ).values_list("node_id", "profile_id")
    )
    if len(profiles) != 2 or len(set(profiles.values())) != 1:
        cache.set(attempts_key, cache.get(attempts_key, 0) + 1, timeout=3600)
        raise LinkError("We could not match that loyalty number with that booking reference.")
    return _link(user, kind=MEMBER_ID, value=member, method=ProfileLink.Method.LOYALTY)


def _link(user: User, *, kind: str, value: str, method: str) -> ProfileLink:
    link, _ = ProfileLink.objects.update_or_create(
        user=user, defaults={"kind": kind, "value": value, "method": method}
    )
    return link


def profile_unlink(*, user: User) -> bool:
    deleted, _ = ProfileLink.objects.filter(user=user).delete()
    return bool(deleted)


def demo_profile_link(*, user: User) -> ProfileLink:
    """Link the demo user to the demo traveller, whose records carry DEMO_EMAIL."""
    return _link(user, kind=EMAIL, value=DEMO_EMAIL, method=ProfileLink.Method.EMAIL)


def suppressions_lift(
    *, erasure: uuid.UUID, by: User | AnonymousUser | None, apply_held: bool
) -> int:
    """Lift an erasure's suppressions: newer events held meanwhile are applied (or
    discarded when staff say so). Returns how many suppressions were lifted."""
    with transaction.atomic():
        lifter = by if isinstance(by, User) else None
        lifted = Suppression.objects.filter(erasure=erasure, lifted_at=None).update(
            lifted_at=timezone.now(), lifted_by=lifter
        )
        held = list(HeldEvent.objects.filter(erasure=erasure).order_by("id"))
        if apply_held and held:
            held_events_apply(held)
        HeldEvent.objects.filter(pk__in=[h.pk for h in held]).delete()
    return lifted
