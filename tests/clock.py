"""The suite's clock: a fixed weekday morning that moves on with real time.

Tests build their data from `START` and product code reads the same clock through the
`clock` fixture, so what "today", "tomorrow" or "the next departures" mean does not
depend on the hour or the day the suite runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

# A Wednesday at 10:00 UTC: hours from midnight in every zone the simulated world flies
# between, and weeks from a daylight-saving change.
START = datetime(2026, 6, 10, 10, 0, tzinfo=UTC)


@dataclass
class Clock:
    start: datetime = START
    _started: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        """`start` plus the real time since the clock was made: instants stay ordered and
        durations real, while the day and hour stay fixed."""
        return self.start + timedelta(seconds=time.monotonic() - self._started)
