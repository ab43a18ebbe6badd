"""The Celery app. Workers also run the Kafka stream handlers (see travelbot/streams/worker.py)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "travelbot.settings")

app = Celery("travelbot")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.beat_schedule = {
    "prune-stream-stats": {"task": "travelbot.tasks.stream_stats_prune", "schedule": 60.0},
    # Catches what a broker outage left in the outbox; commits trigger a relay at once.
    "relay-outbox": {"task": "travelbot.tasks.relay_outbox", "schedule": 2.0},
    # Published outbox messages and dead letters hold personal data: kept only so long.
    "prune-outbox": {"task": "travelbot.tasks.outbox_prune", "schedule": 3600.0},
    "prune-dead-letters": {"task": "travelbot.tasks.dead_letters_prune", "schedule": 3600.0},
    # Catches chunks a failed or missed embedding left behind (and fills in a new model).
    "embed-pending": {"task": "knowledge.tasks.embed_pending", "schedule": 10.0},
    # Catches comment labels whose task a broker outage never queued.
    "classify-stale-comments": {"task": "feedback.tasks.classify_stale", "schedule": 60.0},
}
# By name: the step imports models, which must wait until the worker has set Django up.
app.steps["worker"].add("travelbot.streams.worker:StreamConsumersStep")
