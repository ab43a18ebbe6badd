"""Runs the registered streams inside a Celery worker: one supervised runner thread per stream.

Scaling out means starting more workers: they join the same consumer groups and Kafka
spreads the partitions between them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import bootsteps
from django.conf import settings

from travelbot.streams.registry import streams_selected
from travelbot.streams.runtime import RuntimeConfig
from travelbot.streams.supervisor import StreamSupervisor

logger = logging.getLogger(__name__)


class StreamConsumersStep(bootsteps.StartStopStep):
    """Start stream supervisors after the pool (so no Kafka socket is forked); stop them on
    shutdown, letting each runner finish and commit its batch."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.supervisors: list[StreamSupervisor] = []
        self.threads: list[threading.Thread] = []

    def start(self, parent: Any) -> None:
        config = RuntimeConfig.from_settings()
        for spec in streams_selected(list(settings.WORKER_STREAMS)):
            supervisor = StreamSupervisor(spec, config)
            thread = threading.Thread(
                target=supervisor.run, name=f"stream:{spec.name}", daemon=True
            )
            self.supervisors.append(supervisor)
            self.threads.append(thread)
            thread.start()
        logger.info("worker consumes %d stream(s)", len(self.supervisors))

    def stop(self, parent: Any) -> None:
        for supervisor in self.supervisors:
            supervisor.stop()
        for thread in self.threads:
            thread.join(timeout=30)
