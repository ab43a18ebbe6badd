"""Starts real PostgreSQL+pgvector, the Kafka-protocol broker and Redis on free ports.

Loaded with `-p harness.pytest_plugin` (see pyproject.toml) so the servers are up and
the environment points at them before pytest-django imports the settings.
"""

from __future__ import annotations

import os
import secrets

import pytest

from devstack.stack import Infrastructure
from harness.stack import start_throwaway_stack

_stack: Infrastructure | None = None
METRICS_TOKEN = secrets.token_urlsafe(24)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    global _stack
    if early_config.getoption("help", False) or early_config.getoption("version", 0):
        return
    _stack = start_throwaway_stack(prefix="travelbot-test-")
    os.environ.update(
        {
            **_stack.environment(),
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
            "DJANGO_SETTINGS_MODULE": "travelbot.settings",
            "WORKER_STREAMS": "none",
            # Production settings (DEBUG off), served over plain HTTP on loopback.
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "METRICS_BEARER_TOKEN": METRICS_TOKEN,
            # No model runs for the suite as a whole; the tests that need one start a fake.
            "LLM_READINESS_CHECK": "0",
        }
    )


@pytest.fixture(scope="session")
def infrastructure() -> Infrastructure:
    assert _stack is not None, "the test stack did not start"
    return _stack
