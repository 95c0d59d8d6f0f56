"""`Deadline`: by when a send must be done, one value from the caller down to the socket.

A timeout becomes a deadline once, where a send (or a close) starts; everything below it takes
what is left of that deadline instead of a timeout of its own, so retries, waits and reads
together never outlast it. Deadlines use the monotonic clock: a change of the wall clock moves
none of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Deadline:
    """A moment on `time.monotonic()`'s clock. Immutable: a new send makes a new one."""

    at: float
    """The `time.monotonic()` at which the deadline passes."""

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """The deadline `seconds` from now."""
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left before the deadline passes; 0.0 once it has."""
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return time.monotonic() >= self.at
