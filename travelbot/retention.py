"""What the platform keeps of the data passing through it, and for how long.

Published outbox messages and dead letters carry what travellers said and the raw records
of the customer sources: both are pruned after a retention period (settings; a periodic
task), and an erasure deletes those of a person at once, by the values that identify them
(the platform knows no app's people: the app erasing them says what to look for).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from travelbot.models import DeadLetter, OutboxMessage

SCAN_CHUNK = 500


def outbox_prune(*, older_than: timedelta | None = None) -> int:
    """Delete messages published longer ago than the retention; pending ones stay."""
    keep = older_than or timedelta(hours=settings.OUTBOX_RETENTION_HOURS)
    deleted, _ = OutboxMessage.objects.filter(published_at__lt=timezone.now() - keep).delete()
    return deleted


def dead_letters_prune(*, older_than: timedelta | None = None) -> int:
    """Delete dead letters stored longer ago than the retention, replayed or not: a poison
    record nobody fixed in that time is not worth the personal data it holds."""
    keep = older_than or timedelta(days=settings.DEAD_LETTER_RETENTION_DAYS)
    deleted, _ = DeadLetter.objects.filter(created_at__lt=timezone.now() - keep).delete()
    return deleted


def outbox_messages_erase(*, fields: Mapping[str, Collection[str]]) -> int:
    """Delete messages, pending or published, whose key or value has one of the given values
    in a top-level field (`{"user_id": ["7"]}`): a pending one is then never published."""
    query = Q(pk__in=[])
    for name, values in fields.items():
        if values:
            query |= Q(**{f"key__{name}__in": list(values)})
            query |= Q(**{f"value__{name}__in": list(values)})
    deleted, _ = OutboxMessage.objects.filter(query).delete()
    return deleted


def dead_letters_erase(
    *, containing: Collection[str], fields: Mapping[str, Collection[str]] | None = None
) -> int:
    """Delete dead letters whose key or value contains one of `containing` (compared without
    case: raw records spell emails as they like) or, read as a JSON object, has one of the
    given values in a top-level field. Poison records need not be valid JSON, nor even
    UTF-8, so they are read here rather than by Postgres; retention keeps the table small."""
    needles = [text.lower() for text in containing if text]
    wanted = {name: set(values) for name, values in (fields or {}).items() if values}
    if not needles and not wanted:
        return 0
    doomed = [
        letter.pk
        for letter in DeadLetter.objects.only("pk", "key", "value").iterator(SCAN_CHUNK)
        if _holds(letter, needles, wanted)
    ]
    deleted, _ = DeadLetter.objects.filter(pk__in=doomed).delete()
    return deleted


def _holds(letter: DeadLetter, needles: list[str], wanted: dict[str, set[str]]) -> bool:
    for raw in (letter.key, letter.value):
        if raw is None:
            continue
        text = bytes(raw).decode("utf-8", errors="replace")
        lowered = text.lower()
        if any(needle in lowered for needle in needles):
            return True
        if wanted and _has_field_value(text, wanted):
            return True
    return False


def _has_field_value(text: str, wanted: dict[str, set[str]]) -> bool:
    try:
        document: Any = json.loads(text)
    except ValueError:
        return False
    if not isinstance(document, dict):
        return False
    return any(
        name in document and str(document[name]) in values for name, values in wanted.items()
    )
