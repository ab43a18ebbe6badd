"""The outbox: a save made while the broker is down is delivered when it is back, once."""

from __future__ import annotations

import pytest
from kafka.errors import KafkaError
from pytest_django.fixtures import Settings

from devstack.servers import KafkaBroker
from harness.streaming import RunnerThread, read_topic, runtime_config, wait_until
from knowledge.models import Chunk
from knowledge.pipeline import chunks_embed_pending
from knowledge.selectors import chunks_search
from knowledge.services import DocumentInput, document_save
from knowledge.streams import STREAMS as KNOWLEDGE_STREAMS
from travelbot.models import OutboxMessage
from travelbot.outbox import outbox_relay
from travelbot.streams.kafka import create_topics

pytestmark = pytest.mark.django_db(transaction=True)
DOCUMENTS = KNOWLEDGE_STREAMS[0]


def pets(body: str = "## Fees\nA pet in the cabin costs 45 GBP each way.") -> DocumentInput:
    return DocumentInput(
        doc_id="pets",
        title="Pets",
        body=body,
        tags=["pets"],
        effective_from=None,
        effective_to=None,
    )


def test_a_save_while_the_broker_is_down_is_delivered_when_it_is_back(
    broker: KafkaBroker, settings: Settings
) -> None:
    settings.OUTBOX_PUBLISH_TIMEOUT_S = 2.0
    document_save(data=pets(), by=None)  # the broker has not started: the save still works
    with pytest.raises(KafkaError):
        outbox_relay()
    message = OutboxMessage.objects.get()
    assert message.published_at is None and message.last_error
    broker.start()
    create_topics(
        bootstrap_servers=[broker.bootstrap],
        partitions=3,
        replication_factor=1,
        topics=[DOCUMENTS.topic],
    )
    assert outbox_relay() == 1
    assert outbox_relay() == 0  # nothing is published twice
    [record] = read_topic(DOCUMENTS.topic, 2)
    assert record.key == b'{"doc_id":"pets"}'
    assert OutboxMessage.objects.get().published_at is not None


def test_a_save_becomes_searchable_through_the_broker_and_the_pipeline(
    broker: KafkaBroker,
) -> None:
    broker.start()
    create_topics(
        bootstrap_servers=[broker.bootstrap],
        partitions=3,
        replication_factor=1,
        topics=[DOCUMENTS.topic, DOCUMENTS.dlq_topic],
    )
    document_save(data=pets(), by=None)
    outbox_relay()
    with RunnerThread(DOCUMENTS, runtime_config(bootstrap_servers=[broker.bootstrap])):
        wait_until(lambda: Chunk.objects.exists(), what="the chunks")
        chunks_embed_pending()
        [found] = chunks_search(query="how much is it to bring my cat", k=1)
        assert found.chunk_id == "pets#fees" and found.url == "/help/pets#fees"
        document_save(data=pets("## Fees\nPets now travel free."), by=None)
        outbox_relay()
        wait_until(
            lambda: "travel free" in Chunk.objects.get(chunk_id="pets#fees").text,
            what="the edit",
        )
        assert "45 GBP" not in " ".join(r.text for r in chunks_search(query="pet fee", k=5))
