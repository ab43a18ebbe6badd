"""Consumer lag from the broker, for status pages that must never hang on it.

One admin client per process reads every stream's partitions, end offsets and committed
offsets in three requests. The figures are reused for STREAM_LAG_CACHE_S, and a caller waits
at most KAFKA_ADMIN_TIMEOUT_S for fresh ones: a broker that is down or paused gives the last
known figures marked with the reason, not a page that waits 30 seconds. At most one refresh
is in flight, so a stuck broker does not pile up threads.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec

from travelbot.streams.kafka import make_admin

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PartitionOffsets:
    partition: int
    committed: int | None  # the group's committed offset on the broker
    end: int  # a lower bound on tansu (the last batch's base offset); exact on Kafka


@dataclass(frozen=True)
class LagSnapshot:
    offsets: dict[str, list[PartitionOffsets]] = field(default_factory=dict)  # by topic
    error: str = ""  # why these figures are missing or old
    taken_at: float = 0.0  # time.monotonic()


@dataclass(frozen=True)
class TopicGroup:
    topic: str
    group: str


class LagReader:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admin: KafkaAdminClient | None = None
        self._servers: tuple[str, ...] = ()
        self._snapshot = LagSnapshot()
        self._refreshing: threading.Thread | None = None
        self._refresh_started_at = 0.0
        self._refreshed = threading.Event()

    def read(
        self,
        wanted: list[TopicGroup],
        *,
        servers: list[str],
        max_age_s: float,
        timeout_s: float,
    ) -> LagSnapshot:
        asked_at = time.monotonic()
        with self._lock:
            if tuple(servers) != self._servers:
                self._forget(tuple(servers))
            if self._snapshot.taken_at and asked_at - self._snapshot.taken_at <= max_age_s:
                return self._snapshot
            if self._refreshing is None:
                self._refreshed = threading.Event()
                self._refreshing = threading.Thread(
                    target=self._refresh,
                    args=(wanted, servers, self._refreshed),
                    daemon=True,
                    name="lag-reader",
                )
                self._refresh_started_at = asked_at
                self._refreshing.start()
            refreshed = self._refreshed
            # A refresh already overdue is not waited for again: a page that reads the lag
            # twice (health, then each stream) waits once on a stuck broker, not twice.
            wait_s = max(0.0, self._refresh_started_at + timeout_s - asked_at)
        refreshed.wait(wait_s)
        with self._lock:
            snapshot = self._snapshot
        if snapshot.taken_at >= asked_at:
            return snapshot
        return LagSnapshot(
            offsets=snapshot.offsets,
            error=f"the broker did not answer within {timeout_s:g} s",
            taken_at=snapshot.taken_at,
        )

    def clear(self) -> None:
        """Forget the figures: the next read asks the broker."""
        with self._lock:
            self._forget(self._servers)

    def _forget(self, servers: tuple[str, ...]) -> None:
        self._servers = servers
        self._snapshot = LagSnapshot()
        self._refreshing = None  # a refresh of the old servers finishes on its own
        if self._admin is not None:
            admin, self._admin = self._admin, None
            threading.Thread(target=_close_quietly, args=(admin,), daemon=True).start()

    def _refresh(self, wanted: list[TopicGroup], servers: list[str], done: threading.Event) -> None:
        try:
            snapshot = LagSnapshot(offsets=self._read(wanted, servers), taken_at=time.monotonic())
        except Exception as exc:  # noqa: BLE001 - any failure is shown as the reason
            logger.info("lag unavailable: %r", exc)
            with self._lock:
                admin, self._admin = self._admin, None
            if admin is not None:
                _close_quietly(admin)
            snapshot = LagSnapshot(
                error=f"broker unreachable: {type(exc).__name__}: {exc}"[:300],
                taken_at=time.monotonic(),
            )
        with self._lock:
            if self._refreshing is threading.current_thread():
                self._snapshot = snapshot
                self._refreshing = None
        done.set()

    def _read(
        self, wanted: list[TopicGroup], servers: list[str]
    ) -> dict[str, list[PartitionOffsets]]:
        if self._admin is None:
            self._admin = make_admin(servers, timeout_ms=10_000)
        admin = self._admin
        topics = sorted({w.topic for w in wanted})
        described = admin.describe_topics(topics)
        partitions = [
            TopicPartition(t["name"], p["partition_index"])
            for t in described
            if t.get("error_code", 0) == 0
            for p in t.get("partitions", [])
        ]
        if not partitions:
            return {}
        ends = admin.list_partition_offsets(dict.fromkeys(partitions, OffsetSpec.LATEST))
        by_topic: dict[str, list[TopicPartition]] = {}
        for tp in partitions:
            by_topic.setdefault(tp.topic, []).append(tp)
        specs = {w.group: by_topic.get(w.topic, []) for w in wanted if by_topic.get(w.topic)}
        committed = admin.list_group_offsets(specs) if specs else {}
        group_of = {w.topic: w.group for w in wanted}
        result: dict[str, list[PartitionOffsets]] = {}
        for topic, tps in by_topic.items():
            done = committed.get(group_of.get(topic, ""), {})
            result[topic] = [
                PartitionOffsets(
                    partition=tp.partition,
                    committed=_offset(done.get(tp)),
                    end=int(getattr(ends[tp], "offset", ends[tp])),
                )
                for tp in sorted(tps, key=lambda tp: tp.partition)
            ]
        return result


def _offset(meta: object) -> int | None:
    offset = getattr(meta, "offset", None)
    return offset if isinstance(offset, int) and offset >= 0 else None


def _close_quietly(admin: KafkaAdminClient) -> None:
    try:
        admin.close()
    except Exception:  # noqa: BLE001 - a dead connection is being dropped
        logger.debug("closing the lag reader's admin client failed", exc_info=True)


LAG = LagReader()
