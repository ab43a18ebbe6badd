"""Runs the registered streams inside a Celery worker, one thread per stream.

Scaling out means starting more workers: they join the same consumer groups and
Kafka spreads the partitions between them.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import bootsteps
from django.conf import settings

from travelbot.streams.registry import streams_selected
from travelbot.streams.runtime import RuntimeConfig, StreamRunner

logger = logging.getLogger(__name__)


class StreamConsumersStep(bootsteps.StartStopStep):
    """Start stream runners after the pool (so no Kafka socket is forked); stop them on shutdown."""

    requires = ("celery.worker.components:Pool",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self.runners: list[StreamRunner] = []
        self.threads: list[threading.Thread] = []

    def start(self, parent: Any) -> None:
        config = RuntimeConfig.from_settings()
        hostname = getattr(parent, "hostname", "worker")
        for spec in streams_selected(list(settings.WORKER_STREAMS)):
            runner = StreamRunner(spec, config, client_id=f"{hostname}:{spec.name}")
            thread = threading.Thread(
                target=_run_logged, args=(runner,), name=f"stream:{spec.name}", daemon=True
            )
            self.runners.append(runner)
            self.threads.append(thread)
            thread.start()
        logger.info("worker consumes %d stream(s)", len(self.runners))

    def stop(self, parent: Any) -> None:
        for runner in self.runners:
            runner.stop()
        for thread in self.threads:
            thread.join(timeout=30)


def _run_logged(runner: StreamRunner) -> None:
    try:
        runner.run()
    except Exception:
        logger.exception("stream %s stopped with an error", runner.spec.name)
