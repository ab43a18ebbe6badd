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
from profiles.models import (
    EmailVerification,
    HeldEvent,
    IdentityNode,
    LoyaltyMember,
    ProfileLink,
    Suppression,
)
from profiles.streams import held_events_apply

SIGNING_SALT = "profiles.email-link"
LINK_WINDOW_S = 3600
# Link attempts (emails sent or refused) allowed per window, by what is counted: a loyalty
# number (its holder is emailed each time), a traveller's sign-in, a client address.
LINK_LIMITS = {"member": 5, "user": 5, "client": 20}
DEMO_EMAIL = "demo@example.com"


class LinkError(Exception):
    """Why a link could not be made; the message is for the traveller."""


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SIGNING_SALT)


def _attempt_count(scope: str, key: str) -> int:
    """Count one attempt atomically (add-if-absent, then increment: never read-then-write, so
    concurrent attempts cannot slip under the limit)."""
    name = f"profiles:link-attempts:{scope}:{key}"
    cache.add(name, 0, timeout=LINK_WINDOW_S)
    try:
        return int(cache.incr(name))
    except ValueError:  # expired between add and incr: this attempt opens a new window
        cache.add(name, 1, timeout=LINK_WINDOW_S)
        return 1


def _attempts_check(**keys: str) -> None:
    """Count this attempt against every given scope; refuse when any is over its limit."""
    counts = {scope: _attempt_count(scope, key) for scope, key in keys.items()}
    if any(count > LINK_LIMITS[scope] for scope, count in counts.items()):
        raise LinkError("Too many attempts. Try again in an hour, or link by email.")


def email_verification_send(*, user: User, email: str, confirm_url: str, client: str = "") -> str:
    """Email a signed, expiring, single-use link proving `email` is the traveller's.

    `confirm_url` has a `{token}` placeholder. Returns the normalised email.
    """
    normalized = normalize_email(email)
    if normalized is None:
        raise LinkError("That does not look like an email address.")
    _attempts_check(user=str(user.pk), client=client)
    _confirmation_send(
        EmailVerification.objects.create(user=user, email=normalized),
        confirm_url=confirm_url,
        subject="Confirm your email for travelbot",
        why="Open this link to let travelbot connect your bookings and loyalty account "
        "to your sign-in:",
    )
    return normalized


def _confirmation_send(
    verification: EmailVerification, *, confirm_url: str, subject: str, why: str
) -> None:
    token = _signer().sign(str(verification.id))
    hours = settings.PROFILE_LINK_MAX_AGE_S // 3600
    send_mail(
        subject=subject,
        message=(
            f"{why}\n\n{confirm_url.format(token=token)}\n\n"
            f"It works once, for {hours} hours. If you did not ask for it, ignore this email: "
            "nothing is linked unless the link is opened."
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[verification.email],
    )


@transaction.atomic
def email_verification_confirm(*, user: User, token: str) -> ProfileLink:
    """Complete a link from its emailed token: only for the traveller who asked for it."""
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
    if verification.member_id is not None:
        link = _link(
            user, kind=MEMBER_ID, value=verification.member_id, method=ProfileLink.Method.LOYALTY
        )
    else:
        link = _link(user, kind=EMAIL, value=verification.email, method=ProfileLink.Method.EMAIL)
    _linked_notice_on_commit(user=user, email=verification.email)
    return link


def _linked_notice_on_commit(*, user: User, email: str) -> None:
    """Tell the owner of the records, at their own address, that a sign-in now sees them."""
    message = (
        f'The travelbot sign-in "{user.get_username()}" is now linked to your travel records '
        "and sees your profile, bookings and loyalty account. If this was not you, contact us "
        "and we will remove the link."
    )
    transaction.on_commit(
        lambda: send_mail(
            subject="A travelbot sign-in was linked to your records",
            message=message,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[email],
        )
    )


def profile_link_by_loyalty(
    *, user: User, member_id: str, booking_ref: str, confirm_url: str, client: str = ""
) -> str:
    """Start a link through a loyalty number and a booking reference of the same person.

    Both values are printed on every boarding pass, so they prove nothing alone: this emails
    a confirmation link to the member's own email, and the link completes only when opened by
    this traveller. Returns the address, masked, to tell the traveller where to look.
    """
    member, booking = member_id.strip(), booking_ref.strip().upper()
    _attempts_check(member=member, user=str(user.pk), client=client)
    profiles = dict(
        IdentityNode.objects.filter(
            node_id__in=[node_id(LOYALTY, member), node_id(BOOKING, booking)]
        ).values_list("node_id", "profile_id")
    )
    if len(profiles) != 2 or len(set(profiles.values())) != 1:
        raise LinkError("We could not match that loyalty number with that booking reference.")
    own = LoyaltyMember.objects.filter(member_id=member).values_list("email", flat=True).first()
    email = normalize_email(own or "")
    if email is None:
        raise LinkError(
            "This loyalty account has no email address to confirm with: link with your email."
        )
    _confirmation_send(
        EmailVerification.objects.create(user=user, email=email, member_id=member),
        confirm_url=confirm_url,
        subject="Confirm linking your loyalty account to travelbot",
        why=f'The travelbot sign-in "{user.get_username()}" asked to see your loyalty '
        f"account {member} and your bookings. Open this link to confirm it is you:",
    )
    return mask_email(email)


def mask_email(email: str) -> str:
    """a***@example.com: enough to recognise one's own address, not to learn someone's."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


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
