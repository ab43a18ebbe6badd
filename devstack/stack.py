"""The three infrastructure servers as one unit, addressed by the settings' own URLs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from devstack.servers import (
    KafkaBroker,
    Postgres,
    Redis,
    StackError,
    require_free_port,
)


@dataclass
class Infrastructure:
    postgres: Postgres
    redis: Redis
    kafka: KafkaBroker

    @classmethod
    def from_urls(
        cls,
        *,
        data_root: Path,
        database_url: str,
        redis_url: str,
        kafka_bootstrap: str,
        postgres_root: Path | None = None,
    ) -> Infrastructure:
        db = urlsplit(database_url)
        redis = urlsplit(redis_url)
        kafka_host, _, kafka_port = kafka_bootstrap.split(",")[0].rpartition(":")
        for name, host in (
            ("DATABASE_URL", db.hostname),
            ("REDIS_URL", redis.hostname),
            ("KAFKA_BOOTSTRAP_SERVERS", kafka_host),
        ):
            if host not in {"127.0.0.1", "localhost"}:
                raise StackError(
                    f"{name} points at {host}; the embedded stack only runs on "
                    "127.0.0.1 (unset it, or run the app against your own servers)."
                )
        return cls(
            postgres=Postgres(
                data_root=postgres_root or data_root / "postgres",
                port=db.port or 5432,
                database=(db.path or "/travelbot").lstrip("/"),
                user=db.username or "postgres",
            ),
            redis=Redis(data_root=data_root / "redis", port=redis.port or 6379),
            kafka=KafkaBroker(data_root=data_root / "kafka", port=int(kafka_port or 9092)),
        )

    @property
    def data_root(self) -> Path:
        return self.redis.data_root.parent

    def first_dead(self) -> str | None:
        """One line naming a server that stopped, or None while all three run."""
        if not self.postgres.is_running():
            return f"PostgreSQL stopped (see {self.postgres.log_path})"
        for name, server in (("Redis", self.redis), ("The Kafka broker", self.kafka)):
            if server.process is not None and server.process.poll() is not None:
                code = server.process.returncode
                return f"{name} stopped with code {code} (see {server.data_root})"
        return None

    def environment(self) -> dict[str, str]:
        """The settings' variables that point at this stack."""
        return {
            "DATABASE_URL": self.postgres.url,
            "REDIS_URL": self.redis.url,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap,
        }

    def require_free_ports(self) -> None:
        """Fail before starting anything, so a taken port leaves nothing half-started."""
        require_free_port(self.postgres.port, server="PostgreSQL", variable="DATABASE_URL")
        require_free_port(self.redis.port, server="Redis", variable="REDIS_URL")
        require_free_port(
            self.kafka.port, server="Kafka broker", variable="KAFKA_BOOTSTRAP_SERVERS"
        )

    def start(self) -> None:
        self.require_free_ports()
        started: list[Postgres | Redis | KafkaBroker] = []
        try:
            for server in (self.postgres, self.redis, self.kafka):
                server.start()
                started.append(server)
        except BaseException:
            for server in reversed(started):
                server.stop()
            raise

    def stop(self) -> None:
        for server in (self.kafka, self.redis, self.postgres):
            server.stop()
