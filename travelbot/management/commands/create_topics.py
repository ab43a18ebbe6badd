"""Create every contract topic and its dead-letter topic on the configured Kafka cluster."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from travelbot.streams.kafka import create_topics


class Command(BaseCommand):
    help = "Create the topics of ../shared/contracts/streams.md and their .dlq topics."

    def handle(self, *args: Any, **options: Any) -> None:
        created = create_topics(
            bootstrap_servers=list(settings.KAFKA_BOOTSTRAP_SERVERS),
            partitions=settings.KAFKA_TOPIC_PARTITIONS,
            replication_factor=settings.KAFKA_REPLICATION_FACTOR,
            prefix=settings.KAFKA_TOPIC_PREFIX,
        )
        self.stdout.write(
            f"created {len(created)} topic(s)" + (f": {', '.join(created)}" if created else "")
        )
