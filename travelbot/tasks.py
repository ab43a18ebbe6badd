from __future__ import annotations

from celery import shared_task

from travelbot.outbox import RELAY_OUTBOX_TASK, outbox_relay
from travelbot.retention import dead_letters_prune, outbox_prune
from travelbot.services import stream_stats_prune


@shared_task(name="travelbot.tasks.stream_stats_prune")
def prune_stream_stats() -> int:
    return stream_stats_prune()


@shared_task(name=RELAY_OUTBOX_TASK, ignore_result=True)
def relay_outbox() -> int:
    """Publish what the outbox holds. A broker error leaves the messages pending (with the
    error, shown to staff) for the next run: the periodic one or the next commit's."""
    return outbox_relay()


@shared_task(name="travelbot.tasks.outbox_prune")
def prune_outbox() -> int:
    return outbox_prune()


@shared_task(name="travelbot.tasks.dead_letters_prune")
def prune_dead_letters() -> int:
    return dead_letters_prune()
