"""Starts real PostgreSQL+pgvector, the Kafka-protocol broker and Redis on free ports.

Loaded with `-p tests.stack_plugin` (see pyproject.toml) so the servers are up and
the environment points at them before pytest-django imports the settings.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from travelbot.devstack.services import free_port
from travelbot.devstack.stack import Infrastructure

_stack: Infrastructure | None = None
_data_root: Path | None = None


def _start_stack() -> Infrastructure:
    global _data_root
    _data_root = Path(tempfile.mkdtemp(prefix="travelbot-test-"))
    _data_root.chmod(0o755)  # PostgreSQL runs as an unprivileged user when we are root
    stack = Infrastructure.from_urls(
        data_root=_data_root,
        database_url=f"postgres://postgres@127.0.0.1:{free_port()}/travelbot",
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        kafka_bootstrap=f"127.0.0.1:{free_port()}",
    )
    stack.start()
    os.environ.update(
        {
            "DATABASE_URL": stack.postgres.url,
            "REDIS_URL": stack.redis.url,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap,
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "DJANGO_SETTINGS_MODULE": "travelbot.settings",
            "WORKER_STREAMS": "none",
        }
    )
    return stack


def _stop_stack() -> None:
    if _stack is not None:
        _stack.stop()
    if _data_root is not None:
        shutil.rmtree(_data_root, ignore_errors=True)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    global _stack
    if early_config.getoption("help", False) or early_config.getoption("version", 0):
        return
    _stack = _start_stack()
    atexit.register(_stop_stack)


@pytest.fixture(scope="session")
def infrastructure() -> Infrastructure:
    assert _stack is not None, "the test stack did not start"
    return _stack
