from __future__ import annotations

from celery import shared_task

from travelbot.services import stream_stats_prune


@shared_task(name="travelbot.tasks.stream_stats_prune")
def prune_stream_stats() -> int:
    return stream_stats_prune()
