"""What exports forget when a traveller is erased: their consent to be exported."""

from __future__ import annotations

from exports.models import ExportConsent
from profiles.privacy import Erasure


def export_consent_erase(erasure: Erasure) -> int:
    """Erasure hook: the erased travellers' consent (the chat erases what they said)."""
    consents, _ = ExportConsent.objects.filter(user_id__in=erasure.user_ids).delete()
    return consents


ERASURE_HOOK = export_consent_erase
