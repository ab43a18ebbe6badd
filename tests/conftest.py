"""Fixtures every test shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from travelbot.streams.lag import LAG


@pytest.fixture(autouse=True)
def fresh_lag_figures() -> Iterator[None]:
    """Lag figures are cached for a couple of seconds; each test reads its own topics."""
    LAG.clear()
    yield
    LAG.clear()
