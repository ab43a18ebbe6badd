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
}
# By name: the step imports models, which must wait until the worker has set Django up.
app.steps["worker"].add("travelbot.streams.worker:StreamConsumersStep")
