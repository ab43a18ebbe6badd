"""What an export reads: consented, rated turns changed inside a window, and consent."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import DateTimeField, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest

from chat.models import Rating, Turn
from exports.models import ExportConsent, ExportFormat, ExportRun, ExportWatermark
from exports.scrub import Known, known_values
from profiles.identifiers import BOOKING_REF, CRM, CUSTOMER_ID, EMAIL, MEMBER_ID, PHONE
from profiles.selectors import profile_for_user


@dataclass(frozen=True)
class ExportRow:
    """One rating of a turn, as read (not yet scrubbed)."""

    turn_id: str
    conversation_id: str
    occurred_on: date
    question: str
    answer: str
    rating: int
    comment: str
    model: str
    document_ids: list[str]
    user_ids: tuple[int, ...]  # whose personal data the texts may hold; never exported


def consent_for_user(*, user: User) -> bool:
    return ExportConsent.objects.filter(user=user, granted=True).exists()


def watermark_get(*, format: str, destination: str) -> datetime | None:
    return (
        ExportWatermark.objects.filter(format=format, destination=destination)
        .values_list("exported_through", flat=True)
        .first()
    )


def export_runs_recent(*, limit: int = 20) -> QuerySet[ExportRun]:
    return ExportRun.objects.order_by("-created_at")[:limit]


def ratings_to_export(*, format: str, since: datetime | None, until: datetime) -> QuerySet[Rating]:
    """Ratings whose turn or rating changed in (since, until], or whose travellers granted
    consent in it, where both the conversation's owner and the rater consent now. The
    fine-tuning set keeps answered turns rated helpful."""
    ratings = Rating.objects.annotate(
        changed=Greatest(
            "occurred_at",
            Coalesce("turn__finished_at", "turn__created_at"),
            output_field=DateTimeField(),
        )
    ).filter(
        user__export_consent__granted=True,
        turn__conversation__user__export_consent__granted=True,
        changed__lte=until,
    )
    if format == ExportFormat.JSONL:
        ratings = ratings.filter(rating=1, turn__status=Turn.Status.ANSWERED)
    if since is not None:
        ratings = ratings.filter(
            Q(changed__gt=since)
            | Q(user__export_consent__changed_at__gt=since)
            | Q(turn__conversation__user__export_consent__changed_at__gt=since)
        )
    return ratings.order_by("occurred_at", "pk")


ROW_FIELDS = (
    "turn_id",
    "turn__conversation_id",
    "turn__conversation__user_id",
    "user_id",
    "occurred_at",
    "turn__question",
    "turn__answer",
    "rating",
    "comment",
    "turn__model",
    "turn__provenance",
)


def export_rows(ratings: QuerySet[Rating], *, chunk_size: int = 500) -> Iterator[ExportRow]:
    for values in ratings.values(*ROW_FIELDS).iterator(chunk_size=chunk_size):
        yield _row(values)


def _row(values: dict[str, Any]) -> ExportRow:
    return ExportRow(
        turn_id=str(values["turn_id"]),
        conversation_id=str(values["turn__conversation_id"]),
        occurred_on=values["occurred_at"].date(),
        question=values["turn__question"],
        answer=values["turn__answer"],
        rating=values["rating"],
        comment=values["comment"],
        model=values["turn__model"],
        document_ids=_document_ids(values["turn__provenance"]),
        user_ids=(values["turn__conversation__user_id"], values["user_id"]),
    )


def _document_ids(provenance: dict[str, Any] | None) -> list[str]:
    documents = (provenance or {}).get("documents", [])
    return [str(d["doc_id"]) for d in documents if isinstance(d, dict) and "doc_id" in d]


def known_for_user(*, user_id: int) -> Known:
    """What identifies one traveller in free text: their account and, when linked, their
    unified profile (names, emails, phones, booking references, loyalty and CRM ids)."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return Known()
    account = known_values(
        names=[user.get_full_name()] if user.get_full_name() else [],
        emails=[user.email] if user.email else [],
    )
    profile = profile_for_user(user=user)
    if profile is None:
        return account
    values: dict[str, list[str]] = {}
    for identifier in profile.identifiers:
        values.setdefault(identifier.kind, []).append(identifier.value)
    # Every CRM record's name, not only the one the profile shows: a stale spelling is
    # still the traveller's.
    names = [
        " ".join(str(part) for part in (r.data.get("first_name"), r.data.get("last_name")) if part)
        for r in profile.records
        if r.source == CRM
    ]
    return account | known_values(
        names=names,
        emails=values.get(EMAIL, []),
        phones=values.get(PHONE, []),
        booking_refs=values.get(BOOKING_REF, []),
        loyalty_ids=values.get(MEMBER_ID, []),
        crm_ids=values.get(CUSTOMER_ID, []),
    )


def export_download_path(*, run: ExportRun) -> str | None:
    """A finished JSONL run's file, when it went to this server's disk under EXPORTS_DIR
    (the command may write elsewhere; the web serves nothing outside it)."""
    if run.status != ExportRun.Status.DONE or run.format != ExportFormat.JSONL:
        return None
    if run.destination.startswith("s3://") or len(run.files) != 1:
        return None
    path = Path(run.files[0]).resolve()
    exports_dir = Path(settings.EXPORTS_DIR).resolve()
    return str(path) if path.is_relative_to(exports_dir) and path.is_file() else None
