"""Published outbox messages and dead letters are kept only so long, and a person's go at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from travelbot.celery import app
from travelbot.models import DeadLetter, OutboxMessage
from travelbot.retention import (
    dead_letters_erase,
    dead_letters_prune,
    outbox_messages_erase,
    outbox_prune,
)
from travelbot.tasks import prune_dead_letters, prune_outbox

pytestmark = pytest.mark.django_db


def letter(offset: int, value: bytes | None, *, key: bytes | None = b'{"id":"x"}') -> DeadLetter:
    return DeadLetter.objects.create(
        stream="s", topic="t", partition=0, offset=offset, key=key, value=value, reason="bad"
    )


def test_published_messages_older_than_the_retention_are_pruned_and_pending_ones_kept() -> None:
    long_ago = timezone.now() - timedelta(days=2)
    old = OutboxMessage.objects.create(topic="t", key={}, value={"n": 1})
    recent = OutboxMessage.objects.create(topic="t", key={}, value={"n": 2})
    pending = OutboxMessage.objects.create(topic="t", key={}, value={"n": 3})
    OutboxMessage.objects.filter(pk=old.pk).update(published_at=long_ago)
    OutboxMessage.objects.filter(pk=recent.pk).update(published_at=timezone.now())
    OutboxMessage.objects.filter(pk=pending.pk).update(created_at=long_ago)
    assert outbox_prune() == 1
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, pending.pk}


def test_dead_letters_older_than_the_retention_are_pruned() -> None:
    old, recent = letter(1, b"{}"), letter(2, b"{}")
    DeadLetter.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=31))
    assert dead_letters_prune() == 1
    assert list(DeadLetter.objects.values_list("pk", flat=True)) == [recent.pk]


def test_outbox_messages_with_a_value_in_a_field_are_erased_pending_or_published() -> None:
    OutboxMessage.objects.create(topic="t", key={"conversation_id": "c"}, value={"user_id": "7"})
    OutboxMessage.objects.create(topic="t", key={"user_id": "7"}, value=None)
    kept = OutboxMessage.objects.create(topic="t", key={}, value={"user_id": "70"})
    assert outbox_messages_erase(fields={"user_id": ["7"]}) == 2
    assert list(OutboxMessage.objects.values_list("pk", flat=True)) == [kept.pk]


def test_dead_letters_holding_a_value_are_erased_whatever_their_case_or_encoding() -> None:
    letter(1, b'{"after":{"email":"Ana.Silva@Example.com"}}')
    letter(2, b"\xff\xfe not utf-8 C-1001")
    letter(3, b'{"user_id":"7","rating":0}')
    letter(4, None, key=b'{"customer_id":"C-1001"}')
    kept = letter(5, b'{"user_id":"70","email":"bo@example.com"}')
    erased = dead_letters_erase(
        containing=["ana.silva@example.com", "C-1001"], fields={"user_id": ["7"]}
    )
    assert erased == 4
    assert list(DeadLetter.objects.values_list("pk", flat=True)) == [kept.pk]


def test_the_periodic_tasks_prune_both() -> None:
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {prune_outbox.name, prune_dead_letters.name} <= scheduled
    OutboxMessage.objects.create(
        topic="t", key={}, value={}, published_at=timezone.now() - timedelta(days=2)
    )
    assert (prune_outbox(), prune_dead_letters()) == (1, 0)
