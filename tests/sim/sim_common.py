"""Shared state of the simulator: the progress clock and one lock for all simulated state.

Two progress modes:
  poll  every Describe* call that looks at an object advances it by one step (deterministic)
  time  an object advances one step per `step_seconds` of wall-clock time, evaluated lazily
"""

from __future__ import annotations

import threading
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from moto.core.utils import utcnow

# moto's backends are not thread-safe and our patches mutate state while serving reads.
LOCK = threading.RLock()


class Clock:
    def __init__(self) -> None:
        self.mode = "poll"
        self.step_seconds = 1.0
        self.fail_steps = 2  # steps until a ':fail' deployment is declared FAILED
        self.minute_steps = 1.0  # steps per simulated minute (bake times, hook timeouts)

    def configure(self, mode: str | None = None, step_seconds: float | None = None, minute_steps: float | None = None) -> None:
        if minute_steps is not None:
            if minute_steps < 0:
                raise ValueError("minuteSteps must be >= 0")
            self.minute_steps = float(minute_steps)
        if mode is not None:
            if mode not in ("poll", "time"):
                raise ValueError(f"progress must be poll or time, not {mode!r}")
            self.mode = mode
        if step_seconds is not None:
            if step_seconds <= 0:
                raise ValueError("step seconds must be > 0")
            self.step_seconds = float(step_seconds)

    def as_dict(self) -> dict[str, Any]:
        return {"progress": self.mode, "stepSeconds": self.step_seconds, "failSteps": self.fail_steps,
                "minuteSteps": self.minute_steps}


CLOCK = Clock()


class Stepper:
    """Counts the steps an object is owed: one per poll, or one per elapsed step in time mode."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.t0 = time.monotonic()
        self.applied = 0

    def due(self, polled: bool) -> int:
        if CLOCK.mode == "poll":
            return 1 if polled else 0
        total = int((time.monotonic() - self.t0) / CLOCK.step_seconds)
        return max(0, min(total - self.applied, 1000))

    def done(self, n: int) -> None:
        self.applied += n

    def scheduled(self, i: int) -> datetime | None:
        """When the i-th owed step (0-based) was due in time mode: steps are applied lazily, at the next
        read, but AWS stamps what happens (updatedAt, events) when it happens, not when it is read."""
        if CLOCK.mode == "poll":
            return None
        due = self.t0 + (self.applied + i + 1) * CLOCK.step_seconds
        return utcnow() - timedelta(seconds=max(0.0, time.monotonic() - due))


_AT = threading.local()


@contextmanager
def at(t: datetime | None):
    """Stamp everything `now()` returns inside the block with `t` (None: the real time)."""
    _AT.t = t
    try:
        yield
    finally:
        _AT.t = None


def now() -> datetime:
    return getattr(_AT, "t", None) or utcnow()


def new_id() -> str:
    return str(uuid.uuid4())
