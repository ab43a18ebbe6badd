"""The transactional outbox: write an event with the change, publish it after the commit.

`outbox_add` is called inside the transaction that changes the data. After that commit a
Celery task relays the pending messages (and a periodic one catches anything a broker outage
left behind). Nothing is lost: a message leaves the pending set only once the broker
acknowledged it; consumers apply versions, so one published twice changes nothing.
"""

from __future__ import annotations

import atexit
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min
from django.utils import timezone
from kafka import KafkaProducer
from kafka.errors import KafkaError

from travelbot.enqueue import task_send_on_commit
from travelbot.models import OutboxMessage
from travelbot.streams.kafka import encode_json, make_raw_producer, produce_checked
from travelbot.timefmt import iso_z

BATCH = 500
RELAY_OUTBOX_TASK = "travelbot.tasks.relay_outbox"


def outbox_add(*, topic: str, key: dict[str, Any], value: dict[str, Any] | None) -> OutboxMessage:
    """Queue an event (in the caller's transaction) and relay it once that commits."""
    message = OutboxMessage.objects.create(
        topic=settings.KAFKA_TOPIC_PREFIX + topic, key=key, value=value
    )
    task_send_on_commit(RELAY_OUTBOX_TASK)  # the periodic relay publishes it if this fails
    return message


_producers: dict[tuple[str, ...], KafkaProducer] = {}
_producer_lock = threading.Lock()


def _shared_producer() -> KafkaProducer:
    """One producer per process and broker list, kept between relays."""
    servers = tuple(settings.KAFKA_BOOTSTRAP_SERVERS)
    with _producer_lock:
        if servers not in _producers:
            _producers[servers] = make_raw_producer(
                list(servers), bootstrap_timeout_ms=int(settings.OUTBOX_PUBLISH_TIMEOUT_S * 1000)
            )
        return _producers[servers]


@atexit.register
def _close_producers() -> None:
    with _producer_lock:
        for producer in _producers.values():
            producer.close(timeout=1)
        _producers.clear()


def outbox_relay(*, limit: int = BATCH, producer: KafkaProducer | None = None) -> int:
    """Publish pending messages in id order. Rows are locked while they are sent, so relays
    running at once never send one twice. Returns how many the broker acknowledged; raises
    the broker's error after recording it on the messages it refused."""
    sent = 0
    while True:
        with transaction.atomic():
            pending = list(
                OutboxMessage.objects.filter(published_at=None)
                .select_for_update(skip_locked=True)
                .order_by("id")[:limit]
            )
            if not pending:
                return sent
            acknowledged, error = _publish(pending, producer)
            done = [pending[i].pk for i in acknowledged]
            OutboxMessage.objects.filter(pk__in=done).update(published_at=timezone.now())
            OutboxMessage.objects.filter(pk__in=[m.pk for m in pending if m.pk not in done]).update(
                attempts=F("attempts") + 1, last_error=str(error)[:2000]
            )
        sent += len(done)
        if error is not None:
            raise error
        if len(pending) < limit:
            return sent


def _publish(
    pending: list[OutboxMessage], producer: KafkaProducer | None
) -> tuple[list[int], KafkaError | None]:
    try:
        sender = producer or _shared_producer()
    except KafkaError as exc:  # the broker is unreachable: recorded on every message
        return [], exc
    return produce_checked(
        sender,
        [(m.topic, encode_json(m.key), encode_json(m.value), []) for m in pending],
        timeout_s=settings.OUTBOX_PUBLISH_TIMEOUT_S,
    )


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int
    oldest: datetime | None
    last_error: str

    card_template: ClassVar[str] = "travelbot/_pipeline_outbox.html"

    def as_json(self) -> dict[str, Any]:
        return {
            "pending": self.pending,
            "oldest": iso_z(self.oldest) if self.oldest else None,
            "last_error": self.last_error or None,
        }


def outbox_backlog() -> OutboxBacklog:
    """What waits to be published, for the stream-health page."""
    pending = OutboxMessage.objects.filter(published_at=None)
    figures = pending.aggregate(n=Count("id"), oldest=Min("created_at"))
    errored = pending.exclude(last_error="").order_by("-id").values_list("last_error", flat=True)
    return OutboxBacklog(
        pending=figures["n"], oldest=figures["oldest"], last_error=errored.first() or ""
    )
